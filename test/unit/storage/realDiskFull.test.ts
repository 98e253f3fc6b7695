import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { DurableStore } from '../../../src/core/storage/durableStore';
import { StorageError } from '../../../src/core/storage/errors';
import { listCodec, makeTempDir } from './storageTestKit';

/**
 * A real ENOSPC, not an injected one: a 512 KiB tmpfs, filled to the brim. Runs where the machine
 * allows a mount (root on Linux, as CI here); elsewhere it says why and is skipped. The injected
 * loops (ioErrors.test.ts) cover every call; this shows the real kernel's answer is handled alike.
 */
describe('storage: a real full disk (a small tmpfs)', function () {
  this.timeout(60_000);
  let temp: ReturnType<typeof makeTempDir>;
  let mount: string;
  let mounted = false;

  before(function () {
    if (process.platform !== 'linux' || process.getuid?.() !== 0) this.skip();
    temp = makeTempDir('lifeline-enospc-');
    mount = join(temp.dir, 'small');
    mkdirSync(mount);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k,mode=0700', 'tmpfs', mount], { stdio: 'pipe' });
      mounted = true;
    } catch {
      this.skip();
    }
  });
  after(() => {
    if (mounted) execFileSync('umount', [mount], { stdio: 'pipe' });
    temp?.cleanup();
  });

  /** Fills the disk with a file until the kernel says ENOSPC; returns its path. */
  function fill(path: string): void {
    const fd = openSync(path, 'w');
    const chunk = Buffer.alloc(4096, 1);
    try {
      for (;;) writeSync(fd, chunk);
    } catch (error) {
      assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
    } finally {
      closeSync(fd);
    }
  }

  it('a commit on a full disk rejects as diskFull, the store goes on once space is back, and a reopen has every acknowledged commit', async () => {
    const directory = join(mount, 'store');
    const open = (): Promise<DurableStore<number[], number>> =>
      DurableStore.open({ directory, name: 'list', codec: listCodec, compaction: false });
    const store = await open();
    const acknowledged: number[] = [];
    for (let value = 0; value < 10; value++) {
      await store.commit([value]);
      acknowledged.push(value);
    }
    const filler = join(mount, 'filler');
    fill(filler);
    assert.ok(statfsSync(mount).bavail === 0, 'the disk is full');
    let failure: unknown;
    for (let value = 10; value < 10_000 && failure === undefined; value++) {
      // The journal's last page may have room for a few records; then the kernel refuses.
      await store.commit([value]).then(
        () => acknowledged.push(value),
        (error: unknown) => (failure = error),
      );
    }
    assert.ok(StorageError.is(failure, 'diskFull'), `a typed diskFull, got ${String(failure)}`);
    assert.deepEqual(store.state, acknowledged, 'the refused commit is not in the state');
    await assert.rejects(store.compact(), (error) => StorageError.is(error, 'diskFull'), 'a compaction on a full disk is refused too');

    rmSync(filler);
    await store.commit([-1]);
    acknowledged.push(-1);
    await store.compact(); // what the failed compaction left does not stand in the way of the next
    await store.commit([-2]);
    acknowledged.push(-2);
    await store.close();
    const reopened = await open();
    assert.deepEqual(reopened.state, acknowledged);
    await reopened.close();
  });
});
