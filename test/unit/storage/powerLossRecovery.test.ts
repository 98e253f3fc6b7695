import * as assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { installStorageFs } from '../../../src/core/storage/storageFs';
import { StateStore } from '../../../src/core/storage/stateStore';
import { PowerLossFs } from './powerLossFs';
import { makeTempDir } from './storageTestKit';

describe('power loss during recovery (a cut at every call)', () => {
  let temp: ReturnType<typeof makeTempDir>;
  beforeEach(() => (temp = makeTempDir('lifeline-power-recovery-')));
  afterEach(() => temp.cleanup());

  it('keeps a store created in a new folder, and its acknowledged commits, through a power cut', async () => {
    const layer = new PowerLossFs();
    const installed = installStorageFs(layer);
    const directory = join(temp.dir, 'new', 'folder');
    try {
      const store = await StateStore.open({ directory, compaction: false });
      await store.set('ns', 'key', 'acknowledged');
      await layer.cut(() => 0.99);
      await store.close().catch(() => undefined);
      layer.reset();
      const reopened = await StateStore.open({ directory, compaction: false });
      assert.equal(reopened.get('ns', 'key'), 'acknowledged');
      await reopened.close();
    } finally {
      installed.dispose();
    }
  });

  it('keeps the verified records of a damaged journal, whichever call of the repair the power cut hits', async () => {
    // A journal whose record 4 is damaged and records 5 and 6 verify: "middle" damage, so the open
    // quarantines the journal and keeps records 1 to 3 in a fresh snapshot.
    const pristine = join(temp.dir, 'pristine');
    const store = await StateStore.open({ directory: pristine, compaction: false });
    for (const key of ['a', 'b', 'c']) await store.set('ns', key, key);
    const journal = join(pristine, 'state.00000001.journal');
    const verifiedEnd = statSync(journal).size;
    for (const key of ['d', 'e', 'f']) await store.set('ns', key, key);
    await store.close();
    const bytes = readFileSync(journal);
    bytes[verifiedEnd + 12] = (bytes[verifiedEnd + 12] as number) ^ 0xff;
    writeFileSync(journal, bytes);

    let cuts = 0;
    for (let call = 1; ; call++) {
      const directory = join(temp.dir, `cut-${call}`);
      cpSync(pristine, directory, { recursive: true });
      const layer = new PowerLossFs();
      const installed = installStorageFs(layer);
      try {
        layer.cutAtCall(call, () => 0.99);
        const opened = await StateStore.open({ directory, compaction: false }).catch(() => undefined);
        if (opened && !layer.isDead) {
          await opened.close();
          break; // the open made fewer calls than `call`: every call has been cut once
        }
        await layer.whenCut;
        await opened?.close().catch(() => undefined);
        cuts++;
        layer.reset();
        const reopened = await StateStore.open({ directory, compaction: false });
        assert.deepEqual(reopened.keys('ns'), ['a', 'b', 'c'], `after a power cut at call ${call} of the open`);
        await reopened.close();
      } finally {
        installed.dispose();
        rmSync(directory, { recursive: true, force: true });
      }
    }
    assert.ok(cuts > 5, `only ${cuts} calls were cut`);
  });
});
