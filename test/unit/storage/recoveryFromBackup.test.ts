import * as assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AesGcmCipher, generateKey } from '../../../src/core/storage/aesGcmCipher';
import { BackupManager } from '../../../src/core/storage/backupManager';
import { durableBackupSource } from '../../../src/core/storage/durableBackupSource';
import { journalPath, snapshotPath } from '../../../src/core/storage/durableRecovery';
import { StorageError } from '../../../src/core/storage/errors';
import type { StateStoreOptions } from '../../../src/core/storage/stateStore';
import { StateStore } from '../../../src/core/storage/stateStore';
import type { StorageEvent } from '../../../src/core/storage/storeEvents';
import { makeTempDir } from './storageTestKit';

/** The durable store, the real cipher and the real backup manager together. */
describe('storage: stores with backups and encryption', () => {
  let temp: ReturnType<typeof makeTempDir>;
  beforeEach(() => {
    temp = makeTempDir();
  });
  afterEach(() => temp.cleanup());

  async function setup(cipher = new AesGcmCipher(generateKey()), extra: Partial<StateStoreOptions> = {}) {
    const events: StorageEvent[] = [];
    const live: { durable?: StateStore['durable'] } = {};
    const manager = new BackupManager({
      directory: join(temp.dir, 'backups'),
      source: durableBackupSource(() => (live.durable ? [{ store: live.durable, summary: () => 'keys' }] : [])),
      appVersion: 'test',
      cipher,
    });
    const store = await StateStore.open({
      directory: join(temp.dir, 'stores'),
      cipher,
      compress: true,
      compaction: false,
      onEvent: (event) => events.push(event),
      loadFallback: async () => (await manager.newestGoodBackup('state'))?.part.bytes,
      beforeMigration: async () => void (await manager.create('beforeMigration')),
      ...extra,
    });
    live.durable = store.durable;
    return { store, manager, events, cipher };
  }

  it('corrupt snapshot recovers from the newest good backup (encrypted, real cipher and backup manager)', async () => {
    const first = await setup();
    await first.store.set('a', 'k', 'backed up');
    await first.manager.create('manual');
    await first.store.set('a', 'k', 'after the backup');
    await first.store.durable?.compact();
    await first.store.close();
    const path = snapshotPath({ directory: join(temp.dir, 'stores'), name: 'state' });
    const bytes = readFileSync(path);
    bytes[bytes.length - 5] = (bytes[bytes.length - 5] as number) ^ 1;
    writeFileSync(path, bytes);
    // The previous generation (journal 1 from the empty state) would repair it completely: take it away.
    rmSync(journalPath({ directory: join(temp.dir, 'stores'), name: 'state' }, 1));
    const second = await setup(first.cipher);
    assert.equal(second.store.get('a', 'k'), 'backed up');
    assert.deepEqual(
      second.events.map((event) => event.type),
      ['quarantined', 'quarantined', 'recoveredFromBackup', 'dataLost'],
    );
    const lost = second.events.at(-1);
    assert.ok(lost?.type === 'dataLost' && lost.cause === 'snapshotDamaged' && lost.records === 1, JSON.stringify(lost));
    await second.store.close();
  });

  it('missing key refuses to open, and the store is neither quarantined nor re-created', async () => {
    const first = await setup();
    await first.store.set('a', 'k', 1);
    await first.store.close();
    await assert.rejects(StateStore.open({ directory: join(temp.dir, 'stores') }), (error) => StorageError.is(error, 'missingKey'));
    await assert.rejects(StateStore.open({ directory: join(temp.dir, 'stores'), cipher: new AesGcmCipher(generateKey()) }), (error) =>
      StorageError.is(error, 'wrongKey'),
    );
    const again = await setup(first.cipher);
    assert.equal(again.store.get('a', 'k'), 1);
    await again.store.close();
  });

  it('takes an automatic backup before a migration and restores through the manager', async () => {
    const { store, manager } = await setup();
    await store.set('app', 'n', 1);
    await store.namespace('app', { migrations: [{ version: 1, migrate: (tx) => tx.set('n', 2) }] });
    const backups = await manager.list();
    assert.equal(backups.length, 1);
    assert.equal(store.get('app', 'n'), 2);
    await manager.restore((backups[0] as { id: string }).id);
    assert.equal(store.get('app', 'n'), 1);
    await store.close();
  });
});
