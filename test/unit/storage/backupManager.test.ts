import * as assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as fc from 'fast-check';
import type { Clock } from '../../../src/core/clock';
import { ManualClock, systemClock } from '../../../src/core/clock';
import { AesGcmCipher, generateKey } from '../../../src/core/storage/aesGcmCipher';
import { encodeBackup } from '../../../src/core/storage/backupFile';
import { InvalidBackupError } from '../../../src/core/storage/backupFormat';
import type { BackupProblem } from '../../../src/core/storage/backupFormat';
import { BackupManager, RestoreError } from '../../../src/core/storage/backupManager';
import type { BackupManagerOptions } from '../../../src/core/storage/backupManager';
import { StorageError } from '../../../src/core/storage/errors';
import { FakeSource, bodyOf, forgeBackup, manifestFor, part, sampleParts, useTempDir, zipBomb } from './backupFixtures';

const refused = (problem: BackupProblem) => (error: unknown) =>
  StorageError.is(error, 'invalidBackup') && InvalidBackupError.isProblem(error, problem);
const reason = (expected: StorageError['reason']) => (error: unknown) => StorageError.is(error, expected);
const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString();

/** A clock that moves one minute per call, so backups have distinct, known times. */
function steppingClock(start = Date.parse('2026-11-22T10:00:00.000Z')): Clock {
  let t = start;
  return { ...systemClock, now: () => (t += 60_000) };
}

describe('storage: backup manager', () => {
  const dir = useTempDir('lifeline-backups-');
  let source: FakeSource;
  const backupsDir = (): string => join(dir.path, 'backups');
  const manager = (options: Partial<BackupManagerOptions> = {}): BackupManager =>
    new BackupManager({ directory: backupsDir(), source, appVersion: '0.1.0', clock: steppingClock(), ...options });
  const files = (): string[] => readdirSync(backupsDir()).sort();
  const snapshotOfFolder = (): Record<string, string> =>
    Object.fromEntries(files().map((name) => [name, readFileSync(join(backupsDir(), name)).toString('hex')]));

  beforeEach(() => {
    source = new FakeSource();
  });

  it('creates backups and lists them newest first with sizes and summaries', async () => {
    const backups = manager();
    const first = await backups.create('manual');
    source.live = [part('state', 'changed', '1 key')];
    const second = await backups.create('beforeMigration');
    const list = await backups.list();
    assert.deepEqual(
      list.map((info) => info.id),
      [second.id, first.id],
    );
    const [newest, oldest] = list;
    assert.equal(newest?.reason, 'beforeMigration');
    assert.equal(newest?.status, 'ok');
    assert.deepEqual(newest?.parts, [{ name: 'state', size: 7, summary: '1 key' }]);
    assert.deepEqual(
      oldest?.parts.map((p) => [p.name, p.summary]),
      [
        ['state', '2 keys'],
        ['queue', '3 jobs'],
        ['history', 'empty'],
      ],
    );
    assert.equal(oldest?.fileSize, statSync(first.path).size);
    assert.ok(newest && oldest && newest.createdAt > oldest.createdAt);
    assert.ok(
      files().every((name) => name.endsWith('.llbackup')),
      'no temp file is left',
    );
  });

  it('lists an empty or missing folder as no backups', async () => {
    assert.deepEqual(await manager().list(), []);
  });

  it('lists unreadable files as damaged and encrypted ones without the key as locked, never throwing', async () => {
    const cipher = new AesGcmCipher(generateKey());
    const locked = await manager({ cipher }).create('manual');
    const backups = manager();
    const good = await backups.create('manual');
    writeFileSync(join(backupsDir(), 'backup-20260101T000000000Z-manual-00000000.llbackup'), 'garbage');
    writeFileSync(join(backupsDir(), 'notes.txt'), 'not a backup name, ignored');
    const list = await backups.list();
    assert.equal(list.length, 3);
    const byId = new Map(list.map((info) => [info.id, info]));
    assert.equal(byId.get(good.id)?.status, 'ok');
    assert.equal(byId.get(locked.id)?.status, 'locked');
    assert.ok(StorageError.is(byId.get(locked.id)?.problem, 'missingKey'));
    assert.equal(byId.get(locked.id)?.keyFingerprint, cipher.keyFingerprint);
    const damaged = byId.get('backup-20260101T000000000Z-manual-00000000.llbackup');
    assert.equal(damaged?.status, 'damaged');
    assert.ok(InvalidBackupError.isProblem(damaged?.problem, 'notABackup'));
    assert.equal(damaged?.createdAt.toISOString(), '2026-01-01T00:00:00.000Z');
  });

  it('finds a damaged body only when asked to verify', async () => {
    const backups = manager({ compress: false });
    const info = await backups.create('manual');
    const bytes = readFileSync(info.path);
    bytes[bytes.byteLength - 40] = (bytes[bytes.byteLength - 40] ?? 0) ^ 1;
    writeFileSync(info.path, bytes);
    assert.equal((await backups.list())[0]?.status, 'ok');
    const verified = (await backups.list({ verify: true }))[0];
    assert.equal(verified?.status, 'damaged');
    assert.ok(InvalidBackupError.isProblem(verified?.problem, 'fileChecksum'));
  });

  it('restores: verifies, takes a safety backup of live state first, then installs the parts', async () => {
    const backups = manager();
    const saved = await backups.create('manual');
    source.live = [part('state', 'live state after the backup', '9 keys')];
    source.calls.length = 0;
    const { restored, safetyBackup } = await backups.restore(saved.id);
    assert.deepEqual(source.calls, ['snapshotParts', 'installParts']);
    assert.deepEqual(
      source.installed[0]?.map((p) => [p.name, text(p.bytes), p.summary]),
      sampleParts().map((p) => [p.name, text(p.bytes), p.summary]),
    );
    assert.equal(restored.parts.length, 3);
    assert.equal(safetyBackup.reason, 'beforeRestore');
    const safety = await backups.read(safetyBackup.id);
    assert.deepEqual(
      safety.parts.map((p) => text(p.bytes)),
      ['live state after the backup'],
    );
  });

  it('restores an encrypted backup with the right key and refuses it with the wrong one, changing nothing', async () => {
    const key = generateKey();
    const saved = await manager({ cipher: new AesGcmCipher(key) }).create('manual');
    const before = snapshotOfFolder();
    await assert.rejects(manager({ cipher: new AesGcmCipher(generateKey()) }).restore(saved.id), reason('wrongKey'));
    await assert.rejects(manager().restore(saved.id), reason('missingKey'));
    assert.deepEqual(source.calls, ['snapshotParts']);
    assert.deepEqual(snapshotOfFolder(), before);
    await manager({ cipher: new AesGcmCipher(key) }).restore(saved.id);
    assert.equal(source.installed.length, 1);
  });

  describe('hostile backup files change nothing', () => {
    const parts = sampleParts();
    const hostile: [string, () => Uint8Array, BackupProblem][] = [
      ['garbage', () => Buffer.from('this is not a backup at all'), 'notABackup'],
      ['wrong version', () => forgeBackup({ manifest: manifestFor(parts), body: bodyOf(parts), version: 9 }), 'unsupportedVersion'],
      [
        'wrong part checksum',
        () =>
          forgeBackup({
            manifest: manifestFor(parts, { parts: [{ name: 'state', size: 3, sha256: 'a'.repeat(64), summary: '' }] }),
            body: Buffer.from('abc'),
          }),
        'partChecksum',
      ],
      ['truncated', () => forgeBackup({ manifest: manifestFor(parts), body: bodyOf(parts) }).subarray(0, 100), 'truncated'],
      [
        'oversized part',
        () =>
          forgeBackup({
            manifest: manifestFor([part('state', 'x')], { parts: [{ name: 'state', size: 2 ** 40, sha256: 'a'.repeat(64), summary: '' }] }),
            body: Buffer.from('x'),
          }),
        'partTooLarge',
      ],
      ['a name with ..', () => forgeBackup({ manifest: manifestFor([part('../../outside', 'x')]), body: Buffer.from('x') }), 'partName'],
      ['an absolute path', () => forgeBackup({ manifest: manifestFor([part('/etc/passwd', 'x')]), body: Buffer.from('x') }), 'partName'],
      [
        'a zip bomb',
        () => forgeBackup({ manifest: manifestFor([part('state', 'x')]), body: zipBomb(32 * 1024 * 1024), flags: 1 }),
        'inflatedTooLarge',
      ],
    ];
    for (const [label, make, problem] of hostile) {
      it(label, async () => {
        const backups = manager();
        const id = 'backup-20260101T000000000Z-manual-0badf11e.llbackup';
        await backups.create('manual');
        writeFileSync(join(backupsDir(), id), make());
        const before = snapshotOfFolder();
        source.calls.length = 0;
        await assert.rejects(backups.restore(id), refused(problem));
        assert.deepEqual(source.calls, [], 'neither a safety backup nor an install was attempted');
        assert.deepEqual(snapshotOfFolder(), before);
      });
    }

    it('a symlink to an endless device under a backup name', async () => {
      const backups = manager();
      const good = await backups.create('manual');
      const id = 'backup-20991231T000000000Z-manual-0badf11e.llbackup';
      symlinkSync('/dev/zero', join(backupsDir(), id));
      source.calls.length = 0;
      await assert.rejects(backups.restore(id), refused('notABackup'));
      assert.equal((await backups.list()).find((info) => info.id === id)?.status, 'damaged');
      assert.equal((await backups.newestGoodBackup('state'))?.backupId, good.id);
      assert.deepEqual(source.calls, []);
    });

    it('ids that are not backup names, including paths', async () => {
      const backups = manager();
      await backups.create('manual');
      source.calls.length = 0;
      for (const id of ['../backups/x.llbackup', '/etc/passwd', '..', 'backup-20260101T000000000Z-manual-00000000.llbackup', '']) {
        await assert.rejects(backups.restore(id), reason('backupNotFound'), id);
        await assert.rejects(backups.delete(id), reason('backupNotFound'), id);
      }
      assert.deepEqual(source.calls, []);
    });

    it('a backup with no parts is not restored over live state', async () => {
      source.live = [];
      const backups = manager();
      const empty = await backups.create('manual');
      source.live = sampleParts();
      source.calls.length = 0;
      await assert.rejects(backups.restore(empty.id), refused('nothingToRestore'));
      assert.deepEqual(source.calls, []);
    });

    it('fuzz: 1,000 mutated files never reach installParts and throw only storage errors', async () => {
      const file = await encodeBackup(
        sampleParts(),
        { createdAt: new Date('2026-11-22T10:00:00Z'), appVersion: '0.1.0', reason: 'manual' },
        { compress: true },
      );
      const backups = manager();
      const id = 'backup-20260101T000000000Z-manual-0badf11e.llbackup';
      const path = join(backupsDir(), id);
      await backups.create('manual');
      const allowed = new Set(['invalidBackup', 'decryptFailed', 'missingKey', 'wrongKey']);
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.tuple(fc.constant('flip' as const), fc.nat(file.byteLength - 1), fc.integer({ min: 0, max: 7 })),
            fc.tuple(fc.constant('truncate' as const), fc.nat(file.byteLength - 1), fc.constant(0)),
            fc.tuple(fc.constant('garbage' as const), fc.nat(file.byteLength - 1), fc.integer({ min: 1, max: 255 })),
            fc.tuple(fc.constant('hugeLength' as const), fc.constantFrom(13, 17, 21), fc.constant(0)),
          ),
          async ([kind, at, value]) => {
            const bytes = Buffer.from(file);
            let mutated: Uint8Array = bytes;
            if (kind === 'flip') bytes[at] = (bytes[at] ?? 0) ^ (1 << value);
            else if (kind === 'truncate') mutated = bytes.subarray(0, at);
            else if (kind === 'garbage') bytes.fill(value, at, Math.min(bytes.byteLength, at + 16));
            else bytes.writeUInt32BE(0xffffffff, at);
            fc.pre(!Buffer.from(mutated).equals(Buffer.from(file)));
            writeFileSync(path, mutated);
            source.calls.length = 0;
            try {
              await backups.restore(id);
              assert.fail('a mutated backup was restored');
            } catch (error) {
              assert.ok(error instanceof StorageError && allowed.has(error.reason), `unexpected ${String(error)}`);
            }
            assert.deepEqual(source.calls, []);
          },
        ),
        { numRuns: 1000 },
      );
      assert.equal(source.installed.length, 0);
    });
  });

  it('reports the safety backup when installing fails', async () => {
    const backups = manager();
    const saved = await backups.create('manual');
    source.failInstall = new StorageError('diskFull', 'disk full');
    const error = await backups.restore(saved.id).then(
      () => assert.fail('expected a failure'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof RestoreError && error.reason === 'diskFull');
    assert.ok(files().includes(error.safetyBackupId));
  });

  it('does not install anything when the safety backup cannot be taken', async () => {
    const backups = manager();
    const saved = await backups.create('manual');
    source.failSnapshot = new Error('store is busy');
    source.calls.length = 0;
    await assert.rejects(backups.restore(saved.id), /store is busy/);
    assert.deepEqual(source.calls, ['snapshotParts']);
  });

  it('rotates automatic backups per reason and never rotates manual ones', async () => {
    const backups = manager({ keepAutomatic: { beforeMigration: 2, beforeRestore: 1 } });
    const manual = [];
    const migrations = [];
    for (let i = 0; i < 3; i++) manual.push((await backups.create('manual')).id);
    for (let i = 0; i < 5; i++) migrations.push((await backups.create('beforeMigration')).id);
    const scheduled = [];
    for (let i = 0; i < 7; i++) scheduled.push((await backups.create('scheduled')).id);
    assert.deepEqual(files(), [...manual, ...migrations.slice(-2), ...scheduled.slice(-5)].sort());
    // With keepAutomatic 0 a restore still keeps the backup it restored from and its safety backup.
    const keepNone = manager({ keepAutomatic: 0 });
    const target = migrations[4] ?? '';
    const { safetyBackup } = await keepNone.restore(target);
    assert.deepEqual(files(), [...manual, target, safetyBackup.id].sort());
    assert.deepEqual((await keepNone.rotate()).sort(), [target, safetyBackup.id].sort());
    assert.deepEqual(files(), [...manual].sort());
  });

  it('does not rotate away damaged files or count them', async () => {
    const backups = manager({ keepAutomatic: 1 });
    const good = await backups.create('beforeMigration');
    const damagedId = 'backup-20991231T000000000Z-beforeMigration-deadbeef.llbackup';
    writeFileSync(join(backupsDir(), damagedId), 'damaged');
    await backups.rotate();
    assert.deepEqual(files(), [good.id, damagedId].sort());
  });

  it('deletes a backup, and says when it does not exist', async () => {
    const backups = manager();
    const info = await backups.create('manual');
    await backups.delete(info.id);
    assert.deepEqual(files(), []);
    await assert.rejects(backups.delete(info.id), reason('backupNotFound'));
    await assert.rejects(backups.restore(info.id), reason('backupNotFound'));
  });

  it('finds the newest backup whose part verifies, skipping damaged ones', async () => {
    const backups = manager({ compress: false });
    source.live = [part('state', 'oldest'), part('queue', 'q1')];
    await backups.create('manual');
    source.live = [part('state', 'middle')];
    const middle = await backups.create('scheduled');
    source.live = [part('state', 'newest but damaged')];
    const newest = await backups.create('scheduled');
    const bytes = readFileSync(newest.path);
    bytes[bytes.byteLength - 40] = (bytes[bytes.byteLength - 40] ?? 0) ^ 1;
    writeFileSync(newest.path, bytes);
    const found = await backups.newestGoodBackup('state');
    assert.equal(found?.backupId, middle.id);
    assert.equal(text(found?.part.bytes ?? new Uint8Array()), 'middle');
    assert.equal(text((await backups.newestGoodBackup('queue'))?.part.bytes ?? new Uint8Array()), 'q1');
    assert.equal(await backups.newestGoodBackup('history'), undefined);
  });

  it('runs concurrent creates one at a time with distinct, ordered ids', async () => {
    const backups = manager({ clock: new ManualClock(Date.parse('2026-11-22T10:00:00.000Z')) });
    const created = await Promise.all(Array.from({ length: 5 }, () => backups.create('manual')));
    assert.equal(new Set(created.map((info) => info.id)).size, 5);
    assert.deepEqual(
      (await backups.list()).map((info) => info.id),
      created.map((info) => info.id).reverse(),
    );
  });

  it('removes temp files left by a crash mid-write', async () => {
    const backups = manager();
    await backups.create('manual');
    const stale = '.backup-20260101T000000000Z-manual-00000000.llbackup.0123456789ab.tmp';
    writeFileSync(join(backupsDir(), stale), 'half a backup');
    await backups.create('manual');
    assert.ok(!files().includes(stale));
  });
});
