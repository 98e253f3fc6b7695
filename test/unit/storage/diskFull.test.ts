import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { journalPath, snapshotPath } from '../../../src/core/storage/durableRecovery';
import { StorageError } from '../../../src/core/storage/errors';
import { StateStore } from '../../../src/core/storage/stateStore';
import { makeTempDir } from './storageTestKit';

/** Fills the filesystem holding `dir` to the last byte; returns the filler's path. */
function fillDisk(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'a');
  try {
    for (const chunk of [1 << 16, 1 << 12, 512, 1]) {
      const bytes = Buffer.alloc(chunk, 0x5a);
      for (;;) {
        try {
          writeSync(fd, bytes);
        } catch {
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

function run(command: string, args: string[]): { ok: boolean; output: string } {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error?.message ?? ''}` };
}

// A real full disk: tmpfs never fails an fsync and root ignores chmod, so this mounts a small ext4
// image through a loop device (needs root), as docs/platform.md explains.
describe('storage: disk full on a real filesystem', function () {
  this.timeout(60_000);
  let temp: ReturnType<typeof makeTempDir>;
  let mountDir: string;
  let mounted = false;

  before(function () {
    temp = makeTempDir('lifeline-diskfull-');
    const image = join(temp.dir, 'disk.img');
    mountDir = join(temp.dir, 'mnt');
    mkdirSync(mountDir);
    const steps: [string, string[]][] = [
      ['truncate', ['-s', '8M', image]],
      ['mkfs.ext4', ['-q', image]],
      ['mount', ['-o', 'loop', image, mountDir]],
    ];
    for (const [command, args] of steps) {
      const result = run(command, args);
      if (!result.ok) {
        process.stdout.write(`      (skipped: cannot mount a small ext4 image here: ${command} failed: ${result.output.trim()})\n`);
        this.skip();
      }
    }
    mounted = true;
  });

  after(() => {
    if (mounted) {
      const result = run('umount', [mountDir]);
      if (!result.ok) run('umount', ['-l', mountDir]);
    }
    temp?.cleanup();
  });

  it('keeps the previous state, surfaces diskFull, leaves the journal well formed, and saves again once space is freed', async () => {
    const dir = join(mountDir, 'store-journal');
    let store = await StateStore.open({ directory: dir, compaction: false });
    await store.set('a', 'before', 'kept');
    const journal = journalPath({ directory: dir, name: 'state' }, 1);
    const sizeBefore = statSync(journal).size;
    const filler = fillDisk(mountDir);
    await assert.rejects(store.set('a', 'big', 'x'.repeat(256 * 1024)), (error) => StorageError.is(error, 'diskFull'));
    assert.equal(store.get('a', 'big'), undefined, 'a failed write is taken back out of the cache');
    assert.equal(statSync(journal).size, sizeBefore, 'partial bytes were cut back');
    assert.equal(store.get('a', 'before'), 'kept');
    await store.close();

    store = await StateStore.open({ directory: dir, compaction: false });
    assert.equal(store.get('a', 'before'), 'kept');
    assert.deepEqual(store.durable?.openEvents, []);
    rmSync(filler);
    await store.set('a', 'big', 'x'.repeat(256 * 1024));
    await store.close();
    store = await StateStore.open({ directory: dir, compaction: false });
    assert.equal((store.get('a', 'big') as string).length, 256 * 1024);
    await store.close();
  });

  it('a compaction that hits a full disk leaves the old snapshot and journals usable', async () => {
    const dir = join(mountDir, 'store-snapshot');
    let store = await StateStore.open({ directory: dir, compaction: false });
    for (let index = 0; index < 20; index++) await store.set('a', `k${index}`, 'y'.repeat(20_000));
    await store.durable?.compact();
    const snapshotSize = statSync(snapshotPath({ directory: dir, name: 'state' })).size;
    await store.set('a', 'late', 1);
    const filler = fillDisk(mountDir);
    await assert.rejects(store.durable?.compact() ?? Promise.resolve(), (error) => StorageError.is(error, 'diskFull'));
    assert.equal(statSync(snapshotPath({ directory: dir, name: 'state' })).size, snapshotSize);
    await store.close();
    store = await StateStore.open({ directory: dir, compaction: false });
    assert.equal(store.keys('a').length, 21);
    rmSync(filler);
    await store.durable?.compact();
    await store.set('a', 'after', 2);
    await store.close();
    store = await StateStore.open({ directory: dir, compaction: false });
    assert.equal(store.keys('a').length, 22);
    await store.close();
  });
});
