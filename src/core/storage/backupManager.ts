import { randomBytes } from 'node:crypto';
import { fsp as fs } from './storageFs';
import { join } from 'node:path';
import type { Clock } from '../clock';
import { systemClock } from '../clock';
import { fsyncDirectory, writeFileAtomic } from './atomicFile';
import { readBackupBytes, readBackupFile, readBackupHeader, readBackupSummary, writeBackupFile } from './backupFileIo';
import { decodeBackup } from './backupFile';
import type { DecodedBackup } from './backupFile';
import { BACKUP_FILE_EXTENSION, InvalidBackupError, backupReasons } from './backupFormat';
import type { BackupLimits, BackupReason } from './backupFormat';
import type { BackupPart, BackupSource } from './backupTypes';
import type { RecordCipher } from './cipher';
import { StorageError } from './errors';
import { toStorageError } from './storageIo';
import type { StorageErrorReason } from './errors';

export type AutomaticBackupReason = Exclude<BackupReason, 'manual'>;

export interface BackupManagerOptions {
  /** The folder of backup files (for example `<storeDir>/backups`); created on first use. */
  readonly directory: string;
  readonly source: BackupSource;
  /** Written into each manifest, so a backup says which version made it. */
  readonly appVersion: string;
  /** Encrypts new backups and reads encrypted ones. */
  readonly cipher?: RecordCipher;
  /** gzip new backups. @default true */
  readonly compress?: boolean;
  /** Automatic backups kept per reason; manual ones are never rotated away. @default 5 */
  readonly keepAutomatic?: number | Partial<Record<AutomaticBackupReason, number>>;
  /**
   * Automatic backups older than this are rotated away too, except the newest good one of each
   * reason: a workspace left alone for months still has a last resort. @default no age limit
   */
  readonly maxAutomaticAgeMs?: number;
  /** @default defaultBackupLimits */
  readonly limits?: Partial<BackupLimits>;
  /** Dates each new backup (its file name and manifest). @default systemClock */
  readonly clock?: Clock;
  /** Told about problems that do not fail the operation (a rotation that could not delete a file). */
  readonly log?: (message: string) => void;
}

export interface BackupPartInfo {
  readonly name: string;
  readonly size: number;
  readonly summary: string;
}

/** One backup as `list` shows it. A file that cannot be read is listed, never thrown. */
export interface BackupInfo {
  /** The file name; what restore, delete and read take. */
  readonly id: string;
  readonly path: string;
  readonly fileSize: number;
  readonly createdAt: Date;
  readonly reason: BackupReason | undefined;
  /** 'locked': encrypted with a key that was not given; 'damaged': refused as invalid. */
  readonly status: 'ok' | 'locked' | 'damaged';
  readonly encrypted: boolean;
  readonly keyFingerprint?: string;
  readonly appVersion?: string;
  readonly parts: readonly BackupPartInfo[];
  /** Why the backup is locked or damaged. */
  readonly problem?: StorageError;
  /** Copied in with `importFile`: never rotated, whatever its reason. */
  readonly imported?: boolean;
}

/** What `restore` may be given besides the backup's id (all optional). */
export interface RestoreOptions {
  /**
   * Checks the verified backup before anything is written (not even the safety backup): throw
   * to refuse it, and nothing changes.
   */
  readonly check?: (backup: DecodedBackup) => void;
  /** Parts added to the safety backup (the archive's files, when the backup restores them). */
  readonly safetyParts?: () => Promise<readonly BackupPart[]>;
  /** Installs the parts instead of the source's installParts (a restore in place that reopens the stores). */
  readonly install?: (parts: readonly BackupPart[], context: { readonly safetyBackup: BackupInfo }) => Promise<void>;
}

/** A restore whose installParts failed; the state from before it is in `safetyBackupId`. */
export class RestoreError extends StorageError {
  constructor(
    reason: StorageErrorReason,
    message: string,
    readonly safetyBackupId: string,
    cause: unknown,
  ) {
    super(reason, message, { cause });
  }
}

const FILE_NAME = /^backup-(\d{8}T\d{9}Z)-([A-Za-z]+)-([0-9a-f]{8})\.llbackup$/;
/** The reason segment of an imported backup's file name: its manifest keeps the reason it was made for. */
const IMPORTED = 'imported';

function stamp(date: Date): string {
  return date.toISOString().replace(/[-:.]/g, '');
}

function parseFileName(id: string): { createdAt: Date; reason: BackupReason | undefined } | undefined {
  const match = FILE_NAME.exec(id);
  if (!match?.[1]) return undefined;
  const s = match[1];
  const createdAt = new Date(
    `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}.${s.slice(15, 18)}Z`,
  );
  if (Number.isNaN(createdAt.getTime())) return undefined;
  const reason = backupReasons.find((known) => known === match[2]);
  return { createdAt, reason };
}

function isImported(id: string): boolean {
  return FILE_NAME.exec(id)?.[2] === IMPORTED;
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/**
 * A folder of backup files: create, list, restore, delete, rotation of automatic backups, and
 * the newest good copy of a store for a store whose own files are damaged.
 * Writes (create, restore, delete) run one at a time; reads never change anything.
 */
export class BackupManager {
  private readonly limits: Partial<BackupLimits> | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private lastCreated = 0;
  /** Files in the folder that are not backups, logged once each; never touched. */
  private readonly strangers = new Set<string>();

  /** What new backups are sealed with: options.cipher until a {@link rekey}. */
  private cipher: RecordCipher | undefined;

  constructor(private readonly options: BackupManagerOptions) {
    this.limits = options.limits;
    this.cipher = options.cipher;
  }

  /**
   * Encryption turned on or off (docs/encryption.md): new backups are sealed with `cipher` from
   * now on, and `reseal` rewrites each backup file in place (atomically) meanwhile, with no
   * backup written or restored during it. Returns how many files it was given.
   */
  rekey(cipher: RecordCipher | undefined, reseal: (path: string) => Promise<void>): Promise<number> {
    return this.exclusive('re-seal the backups', async () => {
      this.cipher = cipher;
      const names = await this.fileNames();
      for (const name of names) await reseal(join(this.options.directory, name));
      return names.length;
    });
  }

  get directory(): string {
    return this.options.directory;
  }

  /** Takes a snapshot of every live store and writes it as a new backup, then rotates. */
  create(reason: BackupReason, options: { parts?: readonly BackupPart[] } = {}): Promise<BackupInfo> {
    return this.exclusive('write a backup', async () => {
      const info = await this.createNow(reason, options.parts);
      await this.rotateNow(new Set([info.id]));
      return info;
    });
  }

  /**
   * Every backup, newest first. Checks headers and manifests only; with `verify` every file is
   * read and verified in full (slower: it reads every byte).
   */
  async list(options: { verify?: boolean } = {}): Promise<BackupInfo[]> {
    const infos: BackupInfo[] = [];
    for (const id of await this.fileNames()) {
      const info = await this.describe(id, options.verify ?? false);
      if (info !== undefined) infos.push(info);
    }
    return infos.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1));
  }

  /** Reads one backup and verifies all of it. */
  async read(id: string): Promise<DecodedBackup> {
    const path = this.pathOf(id);
    try {
      return await readBackupFile(path, { cipher: this.cipher, limits: this.limits });
    } catch (error) {
      if (isMissing(error)) throw new StorageError('backupNotFound', `There is no backup ${id}.`, { cause: error });
      throw error;
    }
  }

  /**
   * Replaces the live stores with a backup's. The whole file is verified first and a safety
   * backup (reason 'beforeRestore') of the live state is written before anything is touched;
   * a file that fails any check changes nothing.
   */
  restore(id: string, options: RestoreOptions = {}): Promise<{ restored: DecodedBackup; safetyBackup: BackupInfo }> {
    return this.exclusive('restore a backup', async () => {
      const restored = await this.read(id);
      if (restored.parts.length === 0) {
        throw new InvalidBackupError(
          'nothingToRestore',
          `The backup ${id} holds no store; restoring it would only empty the live state, so it was refused.`,
        );
      }
      options.check?.(restored);
      const safetyBackup = await this.createNow('beforeRestore', [], (await options.safetyParts?.()) ?? []);
      try {
        await (options.install ?? ((parts) => this.options.source.installParts(parts)))(restored.parts, { safetyBackup });
      } catch (error) {
        const reason = error instanceof StorageError ? error.reason : 'ioError';
        throw new RestoreError(
          reason,
          `Restoring the backup ${id} failed (${(error as Error).message}); the state from before the restore is in the backup ${safetyBackup.id}.`,
          safetyBackup.id,
          error,
        );
      }
      // The backup just restored from is kept even if it is the oldest of its kind.
      await this.rotateNow(new Set([id, safetyBackup.id]));
      return { restored, safetyBackup };
    });
  }

  delete(id: string): Promise<void> {
    return this.exclusive('delete a backup', async () => {
      try {
        await fs.rm(this.pathOf(id));
      } catch (error) {
        if (isMissing(error)) throw new StorageError('backupNotFound', `There is no backup ${id}.`, { cause: error });
        throw error;
      }
      await fsyncDirectory(this.options.directory);
    });
  }

  /**
   * Copies a backup file from outside the folder into it, once it verified in full (the bytes
   * verified are the bytes written). It gets a new id of its own, so it never replaces a backup,
   * and it is never rotated. A file that fails any check is refused and nothing is written.
   */
  importFile(path: string): Promise<BackupInfo> {
    return this.exclusive('import a backup', async () => {
      const bytes = await readBackupBytes(path, this.limits);
      const decoded = await decodeBackup(bytes, { cipher: this.cipher, limits: this.limits });
      const directory = this.options.directory;
      await fs.mkdir(directory, { recursive: true, mode: 0o700 });
      const createdAt = new Date(decoded.manifest.createdAt);
      const temporary = join(directory, `.backup-import-${randomBytes(4).toString('hex')}.tmp`);
      await writeFileAtomic(temporary, bytes);
      try {
        // link() never replaces an existing file: a taken name (in theory) just draws another.
        for (;;) {
          const id = `backup-${stamp(createdAt)}-${IMPORTED}-${randomBytes(4).toString('hex')}${BACKUP_FILE_EXTENSION}`;
          try {
            await fs.link(temporary, join(directory, id));
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
            throw error;
          }
          await fs.rm(temporary, { force: true });
          await fsyncDirectory(directory);
          const info = await this.describe(id, false);
          if (!info) throw new StorageError('ioError', `The imported backup ${id} vanished as it was written.`);
          return info;
        }
      } finally {
        await fs.rm(temporary, { force: true }).catch(() => undefined);
      }
    });
  }

  /** Writes a copy of a backup, verified in full first, to `destination` (atomically: replaced whole or not at all). */
  exportTo(id: string, destination: string): Promise<void> {
    return this.exclusive('export a backup', async () => {
      const bytes = await readBackupBytes(this.pathOf(id), this.limits).catch((error: unknown) => {
        if (isMissing(error)) throw new StorageError('backupNotFound', `There is no backup ${id}.`, { cause: error });
        throw error;
      });
      await decodeBackup(bytes, { cipher: this.cipher, limits: this.limits });
      await writeFileAtomic(destination, bytes);
    });
  }

  /** Deletes automatic backups past the number kept per reason; returns the deleted ids. */
  rotate(): Promise<string[]> {
    return this.exclusive('rotate the backups', () => this.rotateNow(new Set()));
  }

  /**
   * The named store's part from the newest backup that verifies in full, or undefined. For a
   * store whose snapshot is damaged; damaged and locked backups are skipped.
   */
  async newestGoodBackup(partName: string): Promise<{ backupId: string; createdAt: Date; part: BackupPart } | undefined> {
    const candidates = (await this.fileNames())
      .map((id) => ({ id, parsed: parseFileName(id) }))
      .sort((a, b) => (b.parsed?.createdAt.getTime() ?? 0) - (a.parsed?.createdAt.getTime() ?? 0) || (a.id < b.id ? 1 : -1));
    for (const { id } of candidates) {
      let backup: DecodedBackup;
      try {
        backup = await this.read(id);
      } catch (error) {
        if (error instanceof StorageError) {
          this.options.log?.(`[backups] skipped the backup ${id}, which does not verify: ${error.message}`);
          continue;
        }
        if (isMissing(error)) continue;
        throw error;
      }
      const part = backup.parts.find((candidate) => candidate.name === partName);
      if (part !== undefined) return { backupId: id, createdAt: new Date(backup.manifest.createdAt), part };
    }
    return undefined;
  }

  /**
   * Runs `work` after the backup work before it. A file call that fails rejects with a
   * StorageError (`diskFull` for a full disk), never a raw fs error (issue 16, the ioerr loop).
   */
  private exclusive<T>(action: string, work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work).catch((error: unknown) => {
      throw toStorageError(error, action);
    });
    this.tail = result.catch(() => undefined);
    return result;
  }

  private pathOf(id: string): string {
    // Ids come from callers (a command, the offline tool): only our own file names are accepted,
    // so an id can never name a file outside the folder.
    if (parseFileName(id) === undefined) {
      throw new StorageError('backupNotFound', `${JSON.stringify(id)} is not the name of a Lifeline backup.`);
    }
    return join(this.options.directory, id);
  }

  private async fileNames(): Promise<string[]> {
    try {
      const names = await fs.readdir(this.options.directory);
      for (const name of names) {
        // Our own temporaries are ignored quietly; anything else is said once and left alone.
        const ours = parseFileName(name) !== undefined || /^\.backup-.*\.tmp$/.test(name);
        if (ours || this.strangers.has(name)) continue;
        this.strangers.add(name);
        this.options.log?.(`[backups] ignored ${join(this.options.directory, name)}: not a Lifeline backup (left as it is)`);
      }
      return names.filter((name) => parseFileName(name) !== undefined);
    } catch (error) {
      if (isMissing(error)) return [];
      throw error;
    }
  }

  /** `override`: parts that replace the source's parts of the same name (the state as it was before a migration). */
  private async createNow(
    reason: BackupReason,
    override: readonly BackupPart[] = [],
    extra: readonly BackupPart[] = [],
  ): Promise<BackupInfo> {
    const directory = this.options.directory;
    await fs.mkdir(directory, { recursive: true, mode: 0o700 });
    await this.removeStaleTemporaries();
    // Strictly increasing times keep "newest first" exact even for backups made in one millisecond.
    const now = Math.max((this.options.clock ?? systemClock).now(), this.lastCreated + 1);
    this.lastCreated = now;
    const createdAt = new Date(now);
    const id = `backup-${stamp(createdAt)}-${reason}-${randomBytes(4).toString('hex')}${BACKUP_FILE_EXTENSION}`;
    const overridden = new Set(override.map((part) => part.name));
    const parts = [...(await this.options.source.snapshotParts()).filter((part) => !overridden.has(part.name)), ...override, ...extra];
    const fileSize = await writeBackupFile(
      join(directory, id),
      parts,
      { createdAt, appVersion: this.options.appVersion, reason },
      {
        cipher: this.cipher,
        compress: this.options.compress ?? true,
        limits: this.limits,
      },
    );
    return {
      id,
      path: join(directory, id),
      fileSize,
      createdAt,
      reason,
      status: 'ok',
      encrypted: this.cipher !== undefined,
      keyFingerprint: this.cipher?.keyFingerprint,
      appVersion: this.options.appVersion,
      parts: parts.map((part) => ({ name: part.name, size: part.bytes.byteLength, summary: part.summary })),
    };
  }

  /** Temp files of writes cut short by a crash (see writeFileAtomic's naming). */
  private async removeStaleTemporaries(): Promise<void> {
    for (const name of await fs.readdir(this.options.directory)) {
      if (/^\.backup-.*\.tmp$/.test(name)) await fs.rm(join(this.options.directory, name), { force: true });
    }
  }

  private keepFor(reason: AutomaticBackupReason): number {
    const keep = this.options.keepAutomatic;
    const value = typeof keep === 'number' ? keep : (keep?.[reason] ?? 5);
    return Math.max(0, Math.floor(value));
  }

  /**
   * Keeps the newest N backups that read well per automatic reason, and of those none older than
   * maxAutomaticAgeMs but the newest. Damaged files neither count nor get deleted here (a person
   * may want to look at them; `delete` removes them).
   */
  private async rotateNow(protectedIds: ReadonlySet<string>): Promise<string[]> {
    const byReason = new Map<AutomaticBackupReason, BackupInfo[]>();
    for (const info of await this.list()) {
      if (info.reason === undefined || info.reason === 'manual' || info.status === 'damaged' || info.imported) continue;
      const group = byReason.get(info.reason) ?? [];
      group.push(info);
      byReason.set(info.reason, group);
    }
    const deleted: string[] = [];
    const maxAge = this.options.maxAutomaticAgeMs;
    const cutoff = maxAge === undefined ? undefined : (this.options.clock ?? systemClock).now() - maxAge;
    for (const [reason, infos] of byReason) {
      const keep = this.keepFor(reason);
      // Newest first: past the count, or (the newest aside) past the age.
      const old = infos.filter((info, index) => index >= keep || (index > 0 && cutoff !== undefined && info.createdAt.getTime() < cutoff));
      for (const info of old) {
        if (protectedIds.has(info.id)) continue;
        try {
          await fs.rm(info.path, { force: true });
          deleted.push(info.id);
        } catch (error) {
          this.options.log?.(`[backups] could not delete the old backup ${info.id}: ${(error as Error).message}`);
        }
      }
    }
    if (deleted.length > 0) await fsyncDirectory(this.options.directory);
    return deleted;
  }

  private async describe(id: string, verify: boolean): Promise<BackupInfo | undefined> {
    const path = join(this.options.directory, id);
    const named = parseFileName(id);
    let fileSize = 0;
    try {
      fileSize = (await fs.stat(path)).size;
      const options = { cipher: this.cipher, limits: this.limits };
      const summary = await readBackupSummary(path, options);
      if (verify) await readBackupFile(path, options);
      const { manifest, header } = summary;
      return {
        id,
        path,
        fileSize,
        createdAt: new Date(manifest.createdAt),
        reason: manifest.reason,
        status: 'ok',
        encrypted: header.encrypted,
        keyFingerprint: header.keyFingerprint,
        appVersion: manifest.appVersion,
        parts: manifest.parts.map(({ name, size, summary: text }) => ({ name, size, summary: text })),
        imported: isImported(id),
      };
    } catch (error) {
      if (isMissing(error)) return undefined; // deleted while we listed
      const problem =
        error instanceof StorageError
          ? error
          : new StorageError('ioError', `The backup ${id} cannot be read: ${(error as Error).message}`, { cause: error });
      const locked = problem.reason === 'missingKey' || problem.reason === 'wrongKey';
      // A locked backup still says which key it needs, so the user can be asked for that recovery key.
      const keyFingerprint = locked
        ? await readBackupHeader(path, this.limits).then(
            (header) => header.keyFingerprint,
            () => undefined,
          )
        : undefined;
      return {
        id,
        path,
        fileSize,
        createdAt: named?.createdAt ?? new Date(0),
        reason: named?.reason,
        status: locked ? 'locked' : 'damaged',
        encrypted: locked,
        keyFingerprint,
        parts: [],
        problem,
        imported: isImported(id),
      };
    }
  }
}
