import { join } from 'node:path';
import type { Clock } from '../clock';
import { systemClock } from '../clock';
import { finishArchiveRekey, rekeyArchive } from '../history/archiveRekey';
import { DurableHistoryLog } from '../history/durableHistoryLog';
import { rekeyPreMigrationCopies } from '../history/preMigration';
import type { Logger } from '../logger';
import { AesGcmCipher, keyFingerprint } from '../storage/aesGcmCipher';
import type { BackupManager } from '../storage/backupManager';
import type { RecordCipher } from '../storage/cipher';
import type { DurableStore } from '../storage/durableStore';
import { StorageError } from '../storage/errors';
import type { KeyRing } from '../storage/reseal';
import { resealBackupFile } from './backupReseal';
import type { EncryptionMarker } from './encryptionMarker';
import { readEncryptionMarker, writeEncryptionMarker } from './encryptionMarker';
import type { RuntimeHistory } from './runtimeHistory';

/**
 * Where the workspace's data key lives: the VS Code layer keeps it in SecretStorage, tests in
 * memory. One key per workspace storage folder.
 */
export interface EncryptionKeyStore {
  getKey(): Promise<Uint8Array | undefined>;
  setKey(key: Uint8Array): Promise<void>;
  deleteKey(): Promise<void>;
}

/**
 * The workspace's data is encrypted and this process has no key for it, or another one. Nothing
 * was opened, so nothing was re-created or quarantined: give the recovery key and open again.
 */
export class EncryptionLockedError extends StorageError {
  constructor(
    reason: 'missingKey' | 'wrongKey',
    message: string,
    /** The fingerprint of the key the data needs (from encryption.json), when known. */
    readonly keyFingerprint: string | undefined,
  ) {
    super(reason, message);
  }
}

/** What encryption is like now, for the health report and the commands. */
export interface EncryptionStatus {
  readonly enabled: boolean;
  readonly keyFingerprint?: string;
  /** Files are being re-sealed (or a crash cut that short and the holder will finish it). */
  readonly converting: boolean;
}

/** What turning encryption on or off rewrote. */
export interface RekeyResult {
  readonly stores: number;
  readonly archiveShards: number;
  readonly backups: number;
  /** Backup files that could not be read (damaged, another key's) and were left as they were. */
  readonly backupsLeft: number;
  readonly jobFiles: number;
  /**
   * Running jobs whose files stay in the old form until they end: encryption.json says
   * `converting` until then (and a turned-off key is kept), and the re-key runs again when they do.
   */
  readonly runningJobsLeft: number;
  readonly durationMs: number;
}

/** The parts of an open runtime a re-key rewrites (all of them live in the process that holds the queue). */
export interface RekeyTargets {
  readonly isHolder: () => boolean;
  readonly queueStore: () => DurableStore<unknown, unknown> | undefined;
  readonly stateStore: () => Promise<DurableStore<unknown, unknown> | undefined>;
  readonly history: RuntimeHistory;
  readonly backups: BackupManager;
  /**
   * Re-seals the jobs' files (journals, logs) of runs not running now. Returns the files rewritten
   * and the running jobs left as they are (their supervisors write on in the old form).
   */
  readonly jobFiles?: (ring: KeyRing) => Promise<{ readonly rewritten: number; readonly skipped: number }>;
}

/**
 * Encryption at rest for one workspace runtime (docs/encryption.md): the key it reads and writes
 * with, the lock when the data needs a key this process lacks, and turning encryption on and off,
 * which re-seals every store, the archive and the backups under the new key (or none).
 */
export class RuntimeEncryption {
  private cipherValue: RecordCipher | undefined;
  private keyValue: Uint8Array | undefined;
  private work: Promise<unknown> = Promise.resolve();
  private targets: (() => RekeyTargets) | undefined;

  private constructor(
    private readonly storageDirectory: string,
    private readonly keys: EncryptionKeyStore | undefined,
    private marker: EncryptionMarker | undefined,
    key: Uint8Array | undefined,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {
    this.setKey(key);
  }

  /**
   * Reads encryption.json and the key. Throws EncryptionLockedError when the data is encrypted and
   * the key is missing or another one: the caller opens nothing then.
   */
  static async load(
    storageDirectory: string,
    keys: EncryptionKeyStore | undefined,
    logger: Logger,
    clock?: Clock,
  ): Promise<RuntimeEncryption> {
    const marker = await readEncryptionMarker(storageDirectory);
    const key = await keys?.getKey();
    const needed = marker?.keyFingerprint;
    // A turn-off that a crash cut short still reads files sealed with the key, so it needs it too.
    if ((marker?.enabled || marker?.converting) && needed !== undefined) {
      if (!key) {
        throw new EncryptionLockedError(
          'missingKey',
          `Lifeline's data for this workspace is encrypted (key ${needed}) and the key is not in this machine's keychain. Enter the recovery key to open it; nothing was opened or changed.`,
          needed,
        );
      }
      if (keyFingerprint(key) !== needed) {
        throw new EncryptionLockedError(
          'wrongKey',
          `Lifeline's data for this workspace is encrypted with key ${needed}, but the keychain holds another key (${keyFingerprint(key)}). Enter the recovery key to open it; nothing was opened or changed.`,
          needed,
        );
      }
    }
    return new RuntimeEncryption(storageDirectory, keys, marker, key, logger, clock ?? systemClock);
  }

  /** The runtime's parts a re-key rewrites (WorkspaceRuntime binds them once it is built). */
  bind(targets: () => RekeyTargets): void {
    this.targets = targets;
  }

  private boundTargets(): RekeyTargets {
    if (!this.targets) throw new StorageError('closed', 'The workspace runtime is not open.');
    return this.targets();
  }

  /** The cipher stores open and write with: the key's while there is one (it reads plain files too). */
  get cipher(): RecordCipher | undefined {
    return this.cipherValue;
  }

  /** The raw key, for the supervisors that seal the jobs' files (sent over their authenticated socket). */
  get key(): Uint8Array | undefined {
    return this.keyValue;
  }

  get status(): EncryptionStatus {
    const marker = this.marker;
    return {
      enabled: marker?.enabled ?? this.cipherValue !== undefined,
      keyFingerprint: marker?.enabled ? marker.keyFingerprint : undefined,
      converting: marker?.converting ?? false,
    };
  }

  /** What a re-key cut short by a crash still has to do: undefined when nothing is pending. */
  private get pendingRing(): KeyRing | undefined {
    if (!this.marker?.converting) return undefined;
    return this.marker.enabled ? { from: undefined, to: this.cipherValue } : { from: this.cipherValue, to: undefined };
  }

  /** Run before the history opens: a re-key a crash cut short left the archive's index behind its shards. */
  async beforeHistoryOpens(historyDirectory: string): Promise<void> {
    const ring = this.pendingRing ?? { from: this.cipherValue, to: this.cipherValue };
    await finishArchiveRekey(join(historyDirectory, 'archive'), ring);
  }

  /**
   * Seals, with the current key, archive files a restore wrote plain (a backup taken before
   * encryption, or imported): call it with the history closed. Nothing to do without encryption.
   */
  async sealRestoredArchive(historyDirectory: string): Promise<void> {
    const cipher = this.cipherValue;
    if (cipher) await rekeyArchive(join(historyDirectory, 'archive'), { from: cipher, to: cipher });
  }

  /** Seals an imported backup file with the current key when it is plain (one sealed with another key stays as it is). */
  async sealImportedBackup(path: string): Promise<void> {
    const cipher = this.cipherValue;
    if (cipher) await resealBackupFile(path, { from: cipher, to: cipher });
  }

  /** Turns encryption on with `key` (already shown to the person as a recovery key). */
  enable(key: Uint8Array): Promise<RekeyResult> {
    return this.serialize(async () => {
      const targets = this.boundTargets();
      if (this.marker?.enabled && !this.marker.converting) {
        throw new StorageError('invalidKey', 'Encryption is already on for this workspace.');
      }
      checkNotConverting(this.marker);
      checkHolder(targets);
      if (!this.keys) throw new StorageError('missingKey', 'This process has nowhere to keep an encryption key.');
      // The key is kept before a single file is sealed with it.
      await this.keys.setKey(key);
      const fingerprint = keyFingerprint(key);
      await this.writeMarker({ enabled: true, keyFingerprint: fingerprint, converting: true });
      const result = await this.rekeyTo(key, targets);
      await this.writeMarker({ enabled: true, keyFingerprint: fingerprint, converting: result.runningJobsLeft > 0 });
      this.logger.info(`[encryption] turned on (key ${fingerprint}): ${describe(result)}`);
      return result;
    });
  }

  /** Turns encryption off: every file is written plain again, then the key is forgotten. */
  disable(): Promise<RekeyResult> {
    return this.serialize(async () => {
      const targets = this.boundTargets();
      if (!this.cipherValue) throw new StorageError('missingKey', 'Encryption is not on for this workspace.');
      checkNotConverting(this.marker);
      checkHolder(targets);
      const fingerprint = this.cipherValue.keyFingerprint;
      await this.writeMarker({ enabled: false, keyFingerprint: fingerprint, converting: true });
      const result = await this.rekeyTo(undefined, targets);
      if (result.runningJobsLeft > 0) {
        // Their files are still sealed with the key: it is kept until they end and are converted.
        this.logger.info(`[encryption] ${result.runningJobsLeft} running job(s) keep the key until they end`);
        return result;
      }
      await this.writeMarker({ enabled: false, converting: false });
      await this.keys?.deleteKey();
      this.logger.info(`[encryption] turned off (key ${fingerprint} forgotten): ${describe(result)}`);
      return result;
    });
  }

  /** Finishes a turn-on or turn-off a crash cut short; the holder runs it once its stores are open. */
  finishPending(): Promise<RekeyResult | undefined> {
    return this.serialize(async () => {
      const targets = this.boundTargets();
      const marker = this.marker;
      if (!this.pendingRing || !marker || !targets.isHolder()) return undefined;
      this.logger.info(
        `[encryption] finishing turning encryption ${marker.enabled ? 'on' : 'off'} (cut short, or waiting for running jobs)`,
      );
      let result: RekeyResult;
      if (marker.enabled) result = await rekeyAll({ from: undefined, to: this.cipherValue }, targets);
      else {
        // Files still sealed with the key being turned off (running jobs' files): the key store keeps it until they are converted.
        const old = this.keyValue ?? (await this.keys?.getKey());
        result = await this.rekeyTo(undefined, targets, old ? new AesGcmCipher(old) : undefined);
      }
      if (result.runningJobsLeft > 0) return result;
      await this.writeMarker({
        enabled: marker.enabled,
        keyFingerprint: marker.enabled ? marker.keyFingerprint : undefined,
        converting: false,
      });
      if (!marker.enabled) await this.keys?.deleteKey();
      this.logger.info(`[encryption] finished: ${describe(result)}`);
      return result;
    });
  }

  /**
   * Re-seals everything with `key` (undefined: plain). The runtime's key changes first: a store
   * that opens again meanwhile (the history, around its re-key) opens with the new one, as every
   * file it reads then is. If the re-key fails the old key stays, which reads both kinds.
   */
  private async rekeyTo(key: Uint8Array | undefined, targets: RekeyTargets, from = this.cipherValue): Promise<RekeyResult> {
    const before = this.keyValue;
    this.setKey(key);
    try {
      return await rekeyAll({ from, to: this.cipherValue }, targets);
    } catch (error) {
      this.setKey(before);
      throw error;
    }
  }

  private setKey(key: Uint8Array | undefined): void {
    this.keyValue = key;
    this.cipherValue = key ? new AesGcmCipher(key) : undefined;
  }

  private async writeMarker(fields: Pick<EncryptionMarker, 'enabled' | 'keyFingerprint' | 'converting'>): Promise<void> {
    this.marker = { version: 1, ...fields, changedAt: this.clock.now() };
    await writeEncryptionMarker(this.storageDirectory, this.marker);
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const run = this.work.then(work);
    this.work = run.catch(() => undefined);
    return run;
  }
}

/**
 * One change at a time: while a turn-on or turn-off waits for running jobs (whose files are still
 * in the old form, a turned-off key still needed for them), another change would strand them.
 */
function checkNotConverting(marker: EncryptionMarker | undefined): void {
  if (marker?.converting) {
    throw new StorageError(
      'locked',
      `Turning encryption ${marker.enabled ? 'on' : 'off'} is still finishing: it waits for the jobs that were running to end. Try again once they have.`,
    );
  }
}

function checkHolder(targets: RekeyTargets): void {
  if (!targets.isHolder()) {
    throw new StorageError('locked', 'Encryption is turned on or off by the window that holds the queue; this one does not.');
  }
}

/**
 * Re-seals everything under `ring.to`: the state store and the queue live (their commits wait
 * meanwhile), the history closed and opened again around its active store and archive, then the
 * backups and the jobs' files. Each step is crash-safe on its own, and the whole is run again by
 * the next holder if a crash cuts it short (encryption.json says `converting`).
 */
async function rekeyAll(ring: KeyRing, targets: RekeyTargets): Promise<RekeyResult> {
  const started = performance.now();
  // Every store must be open here: one left out would keep its files sealed the old way.
  const state = await targets.stateStore();
  const queue = targets.queueStore();
  const opened = await targets.history.whenOpen();
  const active = opened?.log instanceof DurableHistoryLog ? opened.log.durableStore : undefined;
  const closed = [!state && 'the workspace state', !queue && 'the queue', !active && 'the job history'].filter(Boolean);
  if (closed.length > 0) {
    throw new StorageError('locked', `Encryption cannot be turned on or off while ${closed.join(' and ')} is not open in this window.`);
  }
  let stores = 0;
  let archiveShards = 0;
  await state?.rekey(ring.to);
  await queue?.rekey(ring.to);
  stores += 2;
  await targets.history.suspend(async (history) => {
    const live = history?.log instanceof DurableHistoryLog ? history.log.durableStore : undefined;
    if (!live) throw new StorageError('locked', 'The job history closed while encryption was being turned on or off.');
    await live.rekey(ring.to);
    stores++;
    archiveShards = await rekeyArchive(join(targets.history.directory, 'archive'), ring);
    await rekeyPreMigrationCopies(targets.history.directory, ring);
  });
  await targets.history.resume();
  let backupsLeft = 0;
  const backups = await targets.backups.rekey(ring.to, async (path) => {
    if (!(await resealBackupFile(path, ring))) backupsLeft++;
  });
  const jobFiles = (await targets.jobFiles?.(ring)) ?? { rewritten: 0, skipped: 0 };
  return {
    stores,
    archiveShards,
    backups: backups - backupsLeft,
    backupsLeft,
    jobFiles: jobFiles.rewritten,
    runningJobsLeft: jobFiles.skipped,
    durationMs: performance.now() - started,
  };
}

function describe(result: RekeyResult): string {
  return (
    `${result.stores} store(s), ${result.archiveShards} archive shard(s), ${result.backups} backup(s) re-sealed` +
    `${result.backupsLeft ? `, ${result.backupsLeft} unreadable backup(s) left as they were` : ''}, ${result.jobFiles} job file(s), in ${Math.round(result.durationMs)} ms`
  );
}
