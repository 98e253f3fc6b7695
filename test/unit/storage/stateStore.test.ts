import * as assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { journalPath } from '../../../src/core/storage/durableRecovery';
import { StorageError } from '../../../src/core/storage/errors';
import type { MigrationInfo } from '../../../src/core/storage/stateMigrations';
import type { StateStoreOptions } from '../../../src/core/storage/stateStore';
import { StateStore, VERSION_KEY } from '../../../src/core/storage/stateStore';
import { makeTempDir, markCrashedAtOpen } from './storageTestKit';

describe('storage: state store', () => {
  let temp: ReturnType<typeof makeTempDir>;
  beforeEach(() => {
    temp = makeTempDir();
  });
  afterEach(() => temp.cleanup());

  const open = (extra: Partial<StateStoreOptions> = {}): Promise<StateStore> =>
    StateStore.open({ directory: temp.dir, compaction: false, ...extra });

  for (const kind of ['file', 'memory'] as const) {
    describe(`${kind}-backed`, () => {
      const make = (hooks: { beforeMigration?: (info: MigrationInfo) => Promise<void> } = {}): Promise<StateStore> =>
        kind === 'file' ? open(hooks) : Promise.resolve(StateStore.inMemory(hooks));

      it('gets, sets, deletes, lists and tells whether a key exists, per namespace', async () => {
        const store = await make();
        await store.set('a', 'x', { n: 1 });
        await store.set('a', 'y', [1, 2]);
        await store.set('b', 'x', 'other');
        assert.deepEqual(store.get('a', 'x'), { n: 1 });
        assert.deepEqual(store.keys('a'), ['x', 'y']);
        assert.equal(store.exists('a', 'y'), true);
        await store.delete('a', 'y');
        assert.equal(store.exists('a', 'y'), false);
        assert.equal(store.get('a', 'missing'), undefined);
        assert.equal(store.get('b', 'x'), 'other');
        await store.close();
      });

      it('is cache-first: a get right after set sees the value before it is acknowledged', async () => {
        const store = await make();
        const saving = store.set('ns', 'k', 42);
        assert.equal(store.get('ns', 'k'), 42);
        assert.deepEqual(store.keys('ns'), ['k']);
        await saving;
        await store.close();
      });

      it('fires change events after each commit', async () => {
        const store = await make();
        const seen: string[] = [];
        const subscription = store.onDidChange((event) => seen.push(`${event.namespace}:${event.keys.join(',')}`));
        await store.batch([
          { namespace: 'a', key: '1', value: 1 },
          { namespace: 'a', key: '2', value: 2 },
          { namespace: 'b', key: '3', delete: true },
        ]);
        subscription.dispose();
        await store.set('a', '4', 4);
        assert.deepEqual(seen, ['a:1,2', 'b:3']);
        await store.close();
      });

      it('validates with zod on write and on read', async () => {
        const store = await make();
        await store.set('cfg', 'limit', 'not a number');
        const ns = await store.namespace('cfg', { keys: { limit: z.number().int() }, schema: z.string() });
        await assert.rejects(ns.set('limit', 1.5), (error) => StorageError.is(error, 'validationFailed'));
        assert.throws(
          () => ns.get('limit'),
          (error) => StorageError.is(error, 'validationFailed'),
        );
        await ns.set('limit', 3);
        await ns.set('name', 'x');
        await assert.rejects(ns.set('name', 5), (error) => StorageError.is(error, 'validationFailed'));
        assert.equal(ns.get('limit'), 3);
        await store.close();
      });

      it('refuses reserved keys and values that are not JSON', async () => {
        const store = await make();
        await assert.rejects(store.set('a', VERSION_KEY, 1), (error) => StorageError.is(error, 'validationFailed'));
        await assert.rejects(store.set('a', 'k', undefined), (error) => StorageError.is(error, 'validationFailed'));
        await assert.rejects(store.set('a', 'k', 10n), (error) => StorageError.is(error, 'validationFailed'));
        await store.close();
      });

      it('runs ordered migrations, each after a backup, with the version under a reserved key', async () => {
        const store = await make();
        await store.set('app', 'name', 'old');
        const calls: string[] = [];
        const ns = await store.namespace('app', {
          migrations: [
            { version: 2, migrate: (tx) => tx.set('name', `${tx.get('name') as string}-v2`) },
            { version: 1, migrate: (tx) => tx.set('name', `${tx.get('name') as string}-v1`) },
          ],
        });
        assert.equal(ns.get('name'), 'old-v1-v2');
        assert.deepEqual(ns.keys(), ['name']);
        await store.close();
        const other = await make({
          beforeMigration: async (info) => {
            calls.push(`${info.namespace} ${info.fromVersion}->${info.toVersion}`);
          },
        });
        await other.set('tool', 'n', 1);
        await other.namespace('tool', {
          migrations: [
            { version: 1, migrate: () => undefined },
            { version: 2, migrate: () => undefined },
          ],
        });
        assert.deepEqual(calls, ['tool 0->1', 'tool 1->2']);
        await other.close();
      });

      it('rolls a failed migration back with migrationFailed and leaves the data and version as they were', async () => {
        const store = await make({ beforeMigration: async () => undefined });
        await store.set('app', 'count', 1);
        await store.namespace('app', { migrations: [{ version: 1, migrate: (tx) => tx.set('count', 2) }] });
        await assert.rejects(
          store.namespace('app', {
            migrations: [
              { version: 1, migrate: (tx) => tx.set('count', 2) },
              {
                version: 2,
                migrate: (tx) => {
                  tx.set('count', 99);
                  tx.delete('count');
                  throw new Error('boom');
                },
              },
            ],
          }),
          (error) => StorageError.is(error, 'migrationFailed'),
        );
        assert.equal(store.get('app', 'count'), 2);
        assert.equal(store.get('app', VERSION_KEY), 1);
        await assert.rejects(store.namespace('app', { version: 0 }), (error) => StorageError.is(error, 'unsupportedVersion'));
        await assert.rejects(
          store.namespace('app', {
            version: 2,
            schema: z.number().max(5),
            migrations: [{ version: 2, migrate: (tx) => tx.set('count', 50) }],
          }),
          (error) => StorageError.is(error, 'migrationFailed'),
        );
        assert.equal(store.get('app', 'count'), 2);
        await store.close();
      });

      it('stops a migration when its backup cannot be taken', async () => {
        const store = await make({
          beforeMigration: async () => {
            throw new Error('backup folder not writable');
          },
        });
        await store.set('app', 'k', 1);
        await assert.rejects(store.namespace('app', { migrations: [{ version: 1, migrate: (tx) => tx.set('k', 2) }] }), (error) =>
          StorageError.is(error, 'migrationFailed'),
        );
        assert.equal(store.get('app', 'k'), 1);
        await store.close();
      });

      it('gives a fresh namespace its version without running migrations', async () => {
        const store = await make();
        let ran = false;
        await store.namespace('new', { migrations: [{ version: 3, migrate: () => void (ran = true) }] });
        assert.equal(ran, false);
        assert.equal(store.get('new', VERSION_KEY), 3);
        await store.close();
      });
    });
  }

  it('keeps data across a reopen', async () => {
    const store = await open();
    await store.set('a', 'k', { deep: [1, { x: 'y' }] });
    await store.close();
    const again = await open();
    assert.deepEqual(again.get('a', 'k'), { deep: [1, { x: 'y' }] });
    await again.close();
  });

  it('shows a batch wholly or not at all when the journal is cut anywhere inside it', async () => {
    const store = await open();
    await store.set('a', 'before', 0);
    await store.batch([
      { namespace: 'a', key: 'one', value: 1 },
      { namespace: 'b', key: 'two', value: 2 },
      { namespace: 'a', key: 'before', delete: true },
    ]);
    await store.close();
    const path = journalPath({ directory: temp.dir, name: 'state' }, 1);
    const whole = readFileSync(path);
    const sizes: number[] = [];
    // Every cut from the last byte back to the start of the batch's record (where the record
    // before it, which set `before`, starts to be cut too).
    for (let cut = whole.length - 1; cut > 0; cut--) {
      writeFileSync(path, whole.subarray(0, cut));
      // As a crash during the batch leaves it: the manifest's acknowledged end is before the batch.
      markCrashedAtOpen(temp.dir, 'state');
      const cutStore = await open();
      const intact = cutStore.exists('a', 'before');
      if (intact) assert.equal(cutStore.exists('a', 'one') || cutStore.exists('b', 'two'), false, `cut at ${cut}`);
      await cutStore.close();
      writeFileSync(path, whole);
      if (!intact) break;
      sizes.push(cut);
    }
    assert.ok(sizes.length >= 80, `covered ${sizes.length} offsets`);
    const full = await open();
    assert.deepEqual([full.get('a', 'one'), full.get('b', 'two'), full.exists('a', 'before')], [1, 2, false]);
    await full.close();
  });

  it('takes a failed write back out of the cache', async () => {
    const store = StateStore.inMemory();
    await store.set('a', 'k', 1);
    await store.close();
    await assert.rejects(store.set('a', 'k', 2), (error) => StorageError.is(error, 'closed'));
    assert.equal(store.get('a', 'k'), 1);
  });

  it('reads the restored state at once after DurableStore.replaceWith, and tells its listeners what changed', async () => {
    const store = await open();
    await store.set('a', 'kept', 1);
    await store.set('a', 'changed', 'before');
    const snapshot = await store.durable!.exportSnapshot();
    await store.set('a', 'changed', 'after');
    await store.set('a', 'added', true);
    await store.set('b', 'other', 'x');
    const changes: unknown[] = [];
    store.onDidChange((event) => changes.push(event));
    await store.durable!.replaceWith(snapshot);
    assert.equal(store.get('a', 'changed'), 'before');
    assert.equal(store.get('a', 'added'), undefined);
    assert.deepEqual(store.keys('a'), ['changed', 'kept']);
    assert.equal(store.exists('b', 'other'), false);
    assert.deepEqual(changes, [
      { namespace: 'a', keys: ['added', 'changed'], restored: true },
      { namespace: 'b', keys: ['other'], restored: true },
    ]);
    await store.set('a', 'later', 2);
    await store.close();
    const again = await open();
    assert.deepEqual(again.keys('a'), ['changed', 'kept', 'later'], 'a reopen reads the restored state and what followed');
    await again.close();
  });
});
