import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { HistoryEntry } from '../../../src/core/history/historyEntry';
import type { Job } from '../../../src/core/queue/jobModel';
import { EncryptionLockedError } from '../../../src/core/runtime/runtimeEncryption';
import type { EncryptionKeyStore } from '../../../src/core/runtime/runtimeEncryption';
import type { WorkspaceRuntime } from '../../../src/core/runtime/workspaceRuntime';
import { AesGcmCipher, generateKey, keyFingerprint } from '../../../src/core/storage/aesGcmCipher';
import { resealWrapped } from '../../../src/core/storage/reseal';
import { finishArchiveRekey } from '../../../src/core/history/archiveRekey';
import { JobHistory } from '../../../src/core/history/jobHistory';
import { wasmPath } from '../history/historyFixtures';
import { readBackupFile } from '../../../src/core/storage/backupFileIo';
import { StorageError } from '../../../src/core/storage/errors';
import { exportRecoveryKey, importRecoveryKey } from '../../../src/core/storage/recoveryKey';
import { until, useRuntimeFolders } from './runtimeTestKit';

/** SecretStorage as the runtime sees it, in memory. */
class MemoryKeyStore implements EncryptionKeyStore {
  key: Uint8Array | undefined;
  async getKey(): Promise<Uint8Array | undefined> {
    return this.key;
  }
  async setKey(key: Uint8Array): Promise<void> {
    this.key = key;
  }
  async deleteKey(): Promise<void> {
    this.key = undefined;
  }
}

const MARKER = 'ZQX-secret-command-marker';

/** Every data file of the storage folder (stores, archive, backups) with its bytes. */
function dataFiles(storage: string): Map<string, Buffer> {
  const found = new Map<string, Buffer>();
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else found.set(relative(storage, path), readFileSync(path));
    }
  };
  for (const folder of ['queue', 'history', 'state', 'backups', 'jobs']) walk(join(storage, folder));
  return found;
}

function hashes(storage: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, bytes] of dataFiles(storage)) {
    if (!/\.manifest$/.test(name)) out[name] = createHash('sha256').update(bytes).digest('hex');
  }
  return out;
}

/** Files that hold the marker in plain bytes (backups are gzip'd: they are checked by opening them). */
function plainHolders(storage: string): string[] {
  return [...dataFiles(storage)].filter(([, bytes]) => bytes.includes(MARKER)).map(([name]) => name);
}

/** Entries in the history, active and archived. */
function recorded(runtime: WorkspaceRuntime): number {
  const history = runtime.history.history;
  return history ? history.active.count + history.archive.count : 0;
}

function entries(runtime: WorkspaceRuntime): readonly HistoryEntry[] {
  return runtime.history.history?.page({ sort: 'finishedAt', direction: 'desc', limit: 100 }).entries ?? [];
}

describe('WorkspaceRuntime: encryption at rest', function () {
  this.timeout(60_000);
  const folders = useRuntimeFolders();

  /** A runtime with 4 finished jobs (2 archived), a state key and a backup. */
  async function filled(keys: MemoryKeyStore): Promise<WorkspaceRuntime> {
    const runtime = await folders.open({ keyStore: keys, options: { historyMaxActiveEntries: 2, recoveryPolicy: 'off' } });
    await runtime.history.whenOpen();
    for (let i = 0; i < 4; i++) {
      await runtime.queue.execute({ type: 'enqueue', definition: { name: `job ${i}`, command: `echo ${MARKER}-${i}` } });
    }
    await until(runtime.history.onDidChange, () => entries(runtime).length === 4, 'four jobs are in the history');
    await runtime.history.history?.archiveNow();
    const state = await runtime.openState('test.ext');
    await state.set('note', `${MARKER}-state`);
    await runtime.createBackup({ includeArchive: true });
    return runtime;
  }

  it('turns encryption on: every store, the archive and the backups are sealed, and all of it reads back with the key', async () => {
    const keys = new MemoryKeyStore();
    const runtime = await filled(keys);
    const storage = runtime.storageDirectory;
    assert.ok(plainHolders(storage).length > 0, 'before: the command is readable in the files');
    const jobsBefore = runtime.queue.jobs.map((job) => `${job.name}:${job.state}`);

    const key = generateKey();
    const result = await runtime.encryption.enable(key);
    assert.equal(result.stores, 3);
    assert.ok(result.archiveShards >= 1, 'the archive shard was re-sealed');
    assert.equal(result.backups, 1);
    assert.deepEqual(plainHolders(storage), [], 'after: no file holds the command in plain');
    assert.equal(keyFingerprint(keys.key ?? new Uint8Array()), keyFingerprint(key), 'the key is kept in the key store');
    for (const backup of await runtime.services.backups!.manager.list()) {
      await assert.rejects(readBackupFile(backup.path, {}), (error) => StorageError.is(error, 'missingKey'));
    }
    assert.deepEqual(runtime.encryption.status, { enabled: true, keyFingerprint: keyFingerprint(key), converting: false });

    // Work goes on, sealed.
    await runtime.queue.execute({ type: 'enqueue', definition: { name: 'after', command: `echo ${MARKER}-after` } });
    await until(runtime.history.onDidChange, () => recorded(runtime) === 5, 'the job after is recorded');
    assert.deepEqual(plainHolders(storage), []);
    await runtime.close();

    const reopened = await folders.open({ keyStore: keys, options: { historyMaxActiveEntries: 2 } });
    const history = await reopened.history.whenOpen();
    assert.deepEqual(reopened.queue.jobs.map((job) => `${job.name}:${job.state}`).slice(0, 4), jobsBefore);
    assert.equal(history?.active.count, 3);
    assert.equal(history?.archive.count, 2, 'the archived entries read back with the key');
    assert.equal(await (await reopened.openState('test.ext')).get('note'), `${MARKER}-state`);
    // The backup taken before encryption, re-sealed, restores into the sealed stores.
    const [sealed] = await reopened.services.backups!.manager.list();
    await reopened.restoreBackup(sealed?.id ?? '');
    assert.deepEqual(
      reopened.queue.jobs.map((job) => job.name),
      ['job 0', 'job 1', 'job 2', 'job 3'],
    );
    assert.deepEqual(plainHolders(storage), []);
  });

  it('with the key gone, refuses to open and changes nothing; the recovery key opens it with nothing lost', async () => {
    const keys = new MemoryKeyStore();
    const runtime = await filled(keys);
    const key = generateKey();
    await runtime.encryption.enable(key);
    const storage = runtime.storageDirectory;
    await runtime.close();
    const before = hashes(storage);

    keys.key = undefined;
    await assert.rejects(folders.open({ keyStore: keys }), (error) => {
      assert.ok(error instanceof EncryptionLockedError);
      assert.equal(error.reason, 'missingKey');
      assert.equal(error.keyFingerprint, keyFingerprint(key));
      return true;
    });
    keys.key = generateKey();
    await assert.rejects(
      folders.open({ keyStore: keys }),
      (error) => error instanceof EncryptionLockedError && error.reason === 'wrongKey',
    );
    await assert.rejects(folders.open({}), (error) => error instanceof EncryptionLockedError);
    assert.deepEqual(hashes(storage), before, 'nothing was opened, re-created or quarantined');
    assert.ok(!existsSync(join(storage, 'queue', 'quarantine')) || readdirSync(join(storage, 'queue', 'quarantine')).length === 0);

    // The person types the recovery key (with the usual misreadings: lower case, O for 0).
    const typed = exportRecoveryKey(key).toLowerCase().replace(/0/g, 'o');
    keys.key = importRecoveryKey(typed, keyFingerprint(key));
    const reopened = await folders.open({ keyStore: keys });
    await reopened.history.whenOpen();
    assert.equal(reopened.queue.jobs.length, 4);
    assert.equal(entries(reopened).length, 2);
    assert.equal(await (await reopened.openState('test.ext')).get('note'), `${MARKER}-state`);
  });

  it('turns encryption off: every file is plain again, the key is forgotten, and an old backup still restores', async () => {
    const keys = new MemoryKeyStore();
    const runtime = await filled(keys);
    await runtime.encryption.enable(generateKey());
    const sealedBackup = await runtime.createBackup({ includeArchive: true });

    const result = await runtime.encryption.disable();
    assert.equal(result.stores, 3);
    assert.equal(keys.key, undefined, 'the key is forgotten');
    assert.deepEqual(runtime.encryption.status, { enabled: false, keyFingerprint: undefined, converting: false });
    for (const backup of await runtime.services.backups!.manager.list()) {
      const decoded = await readBackupFile(backup.path, {});
      assert.equal(decoded.keyFingerprint, undefined, `${backup.id} is plain again`);
    }
    const restored = await runtime.restoreBackup(sealedBackup.id);
    assert.equal(restored.restored.id, sealedBackup.id);
    assert.equal(runtime.queue.jobs.length, 4);
    await runtime.close();
    const reopened = await folders.open({});
    const history = await reopened.history.whenOpen();
    assert.equal(history?.archive.count, 2);
    assert.ok(plainHolders(reopened.storageDirectory).length > 0, 'the stores are plain files again');
  });

  it("finishes a turn-on that a crash cut short between replacing the archive's shards and updating its index: nothing quarantined, nothing lost", async () => {
    const keys = new MemoryKeyStore();
    const runtime = await filled(keys);
    const storage = runtime.storageDirectory;
    await runtime.close();
    // The state a crash leaves in rekeyArchive: the key kept, encryption.json says converting, the
    // plan written and a shard replaced by its sealed bytes, the index still naming the old digest.
    const key = generateKey();
    keys.key = key;
    writeFileSync(
      join(storage, 'encryption.json'),
      JSON.stringify({ version: 1, enabled: true, keyFingerprint: keyFingerprint(key), converting: true, changedAt: Date.now() }),
    );
    const archive = join(storage, 'history', 'archive');
    const index = JSON.parse(readFileSync(join(archive, 'index.json'), 'utf8')) as { shards: { file: string }[] };
    const shard = index.shards[0]?.file ?? '';
    const sealed = await resealWrapped(readFileSync(join(archive, 'shards', shard)), { from: undefined, to: new AesGcmCipher(key) });
    writeFileSync(
      join(archive, 'rekey-plan.json'),
      JSON.stringify({ entries: [{ file: shard, sha256: createHash('sha256').update(sealed).digest('hex'), bytes: sealed.byteLength }] }),
    );
    writeFileSync(join(archive, 'shards', shard), sealed);

    // What the history's open runs first (RuntimeHistory's beforeOpen): without it, reading the
    // archive takes the re-sealed shard for a damaged one (its digest is not the index's).
    const cipher = new AesGcmCipher(key);
    await finishArchiveRekey(archive, { from: undefined, to: cipher });
    const { history: direct } = await JobHistory.open({ directory: join(storage, 'history'), wasmPath, cipher });
    const page = await direct.archivePage({ limit: 50 });
    await direct.close();
    assert.equal(page.entries.length, 2, 'the archived entries read back');
    assert.ok(!existsSync(join(archive, 'quarantine')), 'the re-sealed shard was not taken for damage');

    const reopened = await folders.open({ keyStore: keys, options: { historyMaxActiveEntries: 2 } });
    const history = await reopened.history.whenOpen();
    assert.equal(history?.archive.count, 2);
    // Serialized behind the pass the runtime started when it became the holder: resolves once that one is done.
    await reopened.encryption.finishPending();
    assert.deepEqual(reopened.encryption.status, { enabled: true, keyFingerprint: keyFingerprint(key), converting: false });
    assert.deepEqual(plainHolders(storage), [], 'the rest was sealed when the holder finished the re-key');
    assert.equal(reopened.queue.jobs.length, 4);
    assert.equal(await (await reopened.openState('test.ext')).get('note'), `${MARKER}-state`);
  });

  it('a job running while encryption is turned on goes on in plain, and its files are sealed once it ends', async () => {
    const keys = new MemoryKeyStore();
    const runtime = await folders.open({ keyStore: keys, options: { recoveryPolicy: 'off' } });
    await runtime.history.whenOpen();
    const go = join(folders.workspace, 'go');
    const command = `node -e "console.log('${MARKER}-running');const fs=require('fs');setInterval(()=>{if(fs.existsSync('go'))process.exit(0)},20)"`;
    const { jobId } = await runtime.queue.execute({ type: 'enqueue', definition: { name: 'across', command } });
    const job = (): Job | undefined => runtime.queue.getJob(String(jobId));
    await until(
      runtime.queue.onDidChange,
      () => job()?.state === 'running' && plainHolders(runtime.storageDirectory).length > 0,
      'it runs and printed',
    );

    const result = await runtime.encryption.enable(generateKey());
    assert.equal(result.runningJobsLeft, 1);
    assert.equal(runtime.encryption.status.converting, true, 'encryption.json says the re-key waits for the running job');
    await assert.rejects(runtime.encryption.disable(), (error) => StorageError.is(error, 'locked'), 'no second change meanwhile');

    writeFileSync(go, '');
    await until(runtime.queue.onDidChange, () => job()?.state === 'succeeded', 'the job ends with its own exit code');
    // Queued behind the pass the runtime started when the job left `running` (same event, earlier listener).
    await runtime.encryption.finishPending();
    assert.equal(runtime.encryption.status.converting, false);
    assert.deepEqual(plainHolders(runtime.storageDirectory), [], 'its journal and log are sealed now');
  });

  it('seals what comes in plain while encryption is on: an imported backup, and the archive of a plain backup restored', async () => {
    const keys = new MemoryKeyStore();
    const runtime = await filled(keys);
    const manager = runtime.services.backups!.manager;
    const [plain] = await manager.list();
    assert.ok(plain);
    const exported = join(folders.workspace, 'exported.llbackup');
    await manager.exportTo(plain.id, exported);
    await runtime.encryption.enable(generateKey());

    const { id: imported } = await runtime.backups({ op: 'import', path: exported });
    await assert.rejects(readBackupFile(join(runtime.storageDirectory, 'backups', imported), {}), (error) =>
      StorageError.is(error, 'missingKey'),
    );

    // A plain backup that reached the folder another way (copied in by hand, an older version).
    const dropped = 'backup-20260101T000000000Z-manual-0badc0de.llbackup';
    writeFileSync(join(runtime.storageDirectory, 'backups', dropped), readFileSync(exported));
    await runtime.restoreBackup(dropped);
    assert.equal((await runtime.history.whenOpen())?.archive.count, 2);
    assert.deepEqual(
      plainHolders(runtime.storageDirectory).filter((name) => name !== join('backups', dropped)),
      [],
      'the restored stores and archive are sealed',
    );
  });

  it('refuses to turn encryption on in a process that does not hold the queue', async () => {
    const keys = new MemoryKeyStore();
    const holder = await folders.open({ keyStore: keys });
    const client = await folders.open({ keyStore: keys });
    assert.equal(client.queue.role, 'client');
    await assert.rejects(client.encryption.enable(generateKey()), (error) => StorageError.is(error, 'locked'));
    assert.equal(holder.encryption.status.enabled, false);
  });
});
