import * as assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackupManager } from '../../../src/core/storage/backupManager';
import { durableBackupSource } from '../../../src/core/storage/durableBackupSource';
import { listJournals } from '../../../src/core/storage/durableRecovery';
import { DurableStore } from '../../../src/core/storage/durableStore';
import { StorageError } from '../../../src/core/storage/errors';
import { StateStore } from '../../../src/core/storage/stateStore';
import { FaultFs } from './faultFs';
import type { Scenario } from './ioerrLoop';
import { ioerrLoop } from './ioerrLoop';
import { listCodec } from './storageTestKit';

type ListStore = DurableStore<number[], number>;
const openList = (dir: string): Promise<ListStore> =>
  DurableStore.open({ directory: dir, name: 'list', codec: listCodec, compaction: false });

/**
 * The durable store's state in memory equals what a reopen gives, once one more commit went
 * through the same open store (it must: the fault is gone), and holds `mustHave` in order.
 */
async function checkList(store: ListStore, dir: string, mustHave: readonly number[]): Promise<void> {
  await store.commit([1000, 1001]);
  const inMemory = [...store.state];
  await store.close();
  const reopened = await openList(dir);
  try {
    assert.deepEqual(reopened.state, inMemory, 'the reopened store differs from the one that stayed open');
  } finally {
    await reopened.close();
  }
  const expected = [...mustHave, 1000, 1001];
  const kept = inMemory.filter((value) => expected.includes(value));
  assert.deepEqual(kept, expected, 'an acknowledged record is missing');
  // Batches are pairs [2k, 2k+1]: whole or absent.
  for (const value of inMemory) {
    const partner = value % 2 === 0 ? value + 1 : value - 1;
    assert.ok(inMemory.includes(partner), `half a batch: ${value} without ${partner} in ${JSON.stringify(inMemory)}`);
  }
}

const pairs = (from: number, count: number): number[][] => Array.from({ length: count }, (_, i) => [from + 2 * i, from + 2 * i + 1]);

function durableScenarios(): Record<string, () => Scenario> {
  return {
    'open (snapshot + journal + a torn tail to recover)': () => {
      let dir = '';
      let store: ListStore | undefined;
      return {
        async setup(d) {
          dir = d;
          const seed = await openList(dir);
          for (const batch of pairs(0, 3)) await seed.commit(batch);
          await seed.compact();
          for (const batch of pairs(6, 3)) await seed.commit(batch);
          await seed.close();
          const journal = (await listJournals({ directory: dir, name: 'list' })).at(-1)?.path ?? '';
          // A crash mid-append: a frame's first bytes only.
          appendFileSync(journal, Buffer.from([0, 0, 0, 9, 1, 2]));
        },
        async run() {
          store = await openList(dir);
        },
        async verify() {
          store ??= await openList(dir);
          await checkList(store, dir, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
          store = undefined;
        },
        close: async () => store?.close(),
      };
    },
    commit: () => {
      let dir = '';
      let store: ListStore | undefined;
      const acknowledged: number[] = [];
      return {
        async setup(d) {
          dir = d;
          store = await openList(dir);
          await store.commit([0, 1]);
          acknowledged.push(0, 1);
        },
        async run() {
          for (const batch of pairs(2, 4)) {
            await store?.commit(batch);
            acknowledged.push(...batch);
          }
        },
        async verify() {
          if (!store) throw new Error('no store');
          await checkList(store, dir, acknowledged);
          store = undefined;
        },
        close: async () => store?.close(),
      };
    },
    compaction: () => {
      let dir = '';
      let store: ListStore | undefined;
      return {
        async setup(d) {
          dir = d;
          store = await openList(dir);
          for (const batch of pairs(0, 4)) await store.commit(batch);
        },
        run: async () => store?.compact(),
        async verify() {
          if (!store) throw new Error('no store');
          await store.compact();
          await checkList(store, dir, [0, 1, 2, 3, 4, 5, 6, 7]);
          store = undefined;
        },
        close: async () => store?.close(),
      };
    },
    'restore (replaceWith)': () => {
      let dir = '';
      let store: ListStore | undefined;
      let backup: Uint8Array = new Uint8Array();
      return {
        async setup(d) {
          dir = d;
          store = await openList(dir);
          await store.commit([20, 21]);
          backup = await store.exportSnapshot();
          await store.commit([22, 23]);
        },
        run: async () => store?.replaceWith(backup),
        async verify(failed) {
          if (!store) throw new Error('no store');
          const state = [...store.state];
          if (failed === undefined) assert.deepEqual(state, [20, 21], 'a restore that completed holds the backup');
          else {
            assert.ok(
              [JSON.stringify([20, 21]), JSON.stringify([20, 21, 22, 23])].includes(JSON.stringify(state)),
              `neither before nor after: ${JSON.stringify(state)}`,
            );
          }
          await checkList(store, dir, state);
          store = undefined;
        },
        close: async () => store?.close(),
      };
    },
  };
}

function backupScenarios(): Record<string, () => Scenario> {
  const setupWith = async (dir: string) => {
    const store = await openList(dir);
    await store.commit([30, 31]);
    const manager = new BackupManager({
      directory: join(dir, 'backups'),
      source: durableBackupSource([{ store, summary: () => `${store.state.length} numbers` }]),
      appVersion: '0.0.0-test',
    });
    return { store, manager };
  };
  return {
    'backup create': () => {
      let dir = '';
      let live: Awaited<ReturnType<typeof setupWith>> | undefined;
      return {
        async setup(d) {
          dir = d;
          live = await setupWith(dir);
        },
        run: async () => void (await live?.manager.create('manual')),
        async verify() {
          if (!live) throw new Error('no store');
          // Every backup listed reads back whole; a new one can be made at once.
          for (const info of await live.manager.list()) await live.manager.read(info.id);
          const info = await live.manager.create('manual');
          const read = await live.manager.read(info.id);
          assert.equal(read.parts.length, 1);
          await checkList(live.store, dir, [30, 31]);
          live = undefined;
        },
        close: async () => live?.store.close(),
      };
    },
    'backup restore': () => {
      let dir = '';
      let live: Awaited<ReturnType<typeof setupWith>> | undefined;
      let id = '';
      return {
        async setup(d) {
          dir = d;
          live = await setupWith(dir);
          id = (await live.manager.create('manual')).id;
          await live.store.commit([32, 33]);
        },
        run: async () => void (await live?.manager.restore(id)),
        async verify(failed) {
          if (!live) throw new Error('no store');
          const state = JSON.stringify(live.store.state);
          if (failed === undefined) assert.equal(state, '[30,31]');
          else assert.ok(['[30,31]', '[30,31,32,33]'].includes(state), `neither before nor after: ${state}`);
          await live.manager.restore(id);
          assert.equal(JSON.stringify(live.store.state), '[30,31]');
          await checkList(live.store, dir, [30, 31]);
          live = undefined;
        },
        close: async () => live?.store.close(),
      };
    },
  };
}

function stateScenario(): Scenario {
  let dir = '';
  let store: StateStore | undefined;
  const acknowledged = new Map<string, unknown>();
  const open = (): Promise<StateStore> => StateStore.open({ directory: dir, compaction: false });
  return {
    async setup(d) {
      dir = d;
      store = await open();
      await store.set('ns', 'seed', 1);
      acknowledged.set('seed', 1);
    },
    async run() {
      for (let i = 0; i < 3; i++) {
        await store?.batch([
          { namespace: 'ns', key: `a${i}`, value: i },
          { namespace: 'ns', key: `b${i}`, value: i },
        ]);
        acknowledged.set(`a${i}`, i).set(`b${i}`, i);
      }
    },
    async verify() {
      if (!store) throw new Error('no store');
      await store.set('ns', 'after', true);
      acknowledged.set('after', true);
      const inMemory = Object.fromEntries(store.keys('ns').map((key) => [key, store?.get('ns', key)]));
      await store.close();
      store = await open();
      const reopened = Object.fromEntries(store.keys('ns').map((key) => [key, store?.get('ns', key)]));
      assert.deepEqual(reopened, inMemory, 'the reopened state store differs from the one that stayed open');
      for (const [key, value] of acknowledged) assert.deepEqual(reopened[key], value, `acknowledged key ${key} is missing`);
      for (let i = 0; i < 3; i++) assert.equal(`a${i}` in reopened, `b${i}` in reopened, `half a batch at ${i}`);
    },
    close: async () => store?.close(),
  };
}

/** Issue 16, "I/O errors at every step": the loop (ioerrLoop.ts) over each operation of the storage core. */
describe('storage: an I/O error at every step (the ioerr loop)', function () {
  this.timeout(120_000);
  for (const code of ['EIO', 'ENOSPC'] as const) {
    for (const [name, make] of Object.entries({ ...durableScenarios(), ...backupScenarios(), 'state store': stateScenario })) {
      it(`${name}: fails call N with ${code} for every N, then completes`, async () => {
        const runs = await ioerrLoop(code, make);
        assert.ok(runs > 1, 'the operation made no file call at all');
      });
    }
  }
});

describe('storage: a failed journal write or sync is cut back', () => {
  it('leaves the journal as long as before the failed commit, and the next append on the same journal works', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeline-ioerr-'));
    const fault = new FaultFs();
    try {
      const store = await openList(dir);
      await store.commit([0, 1]);
      const journal = (await listJournals({ directory: dir, name: 'list' })).at(-1)?.path ?? '';
      let failures = 0;
      const expected = [0, 1];
      for (let n = 1; ; n++) {
        const before = statSync(journal).size;
        fault.failNth(n, 'EIO');
        const failed = await store.commit([2 * n + 2, 2 * n + 3]).then(
          () => undefined,
          (error: unknown) => error,
        );
        const injected = fault.injected;
        fault.heal();
        if (injected === 0) break;
        if (failed === undefined && store.state.includes(2 * n + 2)) {
          // The fault hit the ack mark, written after the commit was on disk: a hint, whose failure
          // is logged and stops it; the commit stands.
          expected.push(2 * n + 2, 2 * n + 3);
          continue;
        }
        assert.ok(StorageError.is(failed), `call ${n}: ${String(failed)}`);
        failures++;
        assert.equal(statSync(journal).size, before, `call ${n} (${fault.trace.join(', ')}): the failed commit's bytes are cut back`);
        assert.ok(!store.state.includes(2 * n + 2), 'a failed commit is not in the state');
      }
      assert.ok(failures >= 2, 'both the write and the sync were failed');
      await checkList(store, dir, expected);
    } finally {
      fault.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
