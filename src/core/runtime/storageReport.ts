import { readEncryptionMarker } from './encryptionMarker';
import type { EncryptionMarker } from './encryptionMarker';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import type { BackupInfo } from '../storage/backupManager';
import { BackupManager } from '../storage/backupManager';
import type { StoreMetrics } from '../storage/storeEvents';
import type { StoreCheck } from '../storage/storeCheck';
import { checkStore, findStores } from '../storage/storeCheck';
import { fsp as fs } from '../storage/storageFs';
import { DEFAULT_LEASE_STALE_AFTER_MS, readLease } from '../session/lease';
import type { AuditEntry } from '../storage/auditLog';
import { readAuditLog } from '../storage/auditLog';
import type { ReportedEvent } from './reportedEvents';
import type { SurvivalReport } from './jobSurvival';
import { checkArchive } from './archiveCheck';
import type { ArchiveCheck } from './archiveCheck';

/** One durable store (queue, history, state) as the health report shows it. */
export interface StoreHealthReport {
  readonly name: string;
  /** Its folder, relative to the storage folder (`queue`, `history`). */
  readonly folder: string;
  readonly check: StoreCheck;
  /** From the store open in this process (undefined when another process has it open, or none). */
  readonly live: StoreMetrics | undefined;
  readonly quarantine: readonly QuarantinedFile[];
}

/** A file set aside because it was damaged; nothing removes it but its folder's size cap. */
export interface QuarantinedFile {
  readonly name: string;
  /** The file it was, as far as its name tells (`queue.snapshot`). */
  readonly original: string;
  readonly bytes: number;
  readonly at: number;
}

export interface LeaseReport {
  readonly state: 'none' | 'held' | 'releasing' | 'unreadable';
  readonly pid?: number;
  readonly hostname?: string;
  /** The holder's activation: one per window (extension host), or per terminal command. */
  readonly activationId?: string;
  readonly heartbeatAt?: number;
  /** The heartbeat is older than the staleness limit: the next window takes it over. */
  readonly stale?: boolean;
  /** Held by the process that made this report. */
  readonly thisProcess?: boolean;
}

export interface BackupsReport {
  readonly count: number;
  readonly totalBytes: number;
  readonly newest: BackupInfo | undefined;
  /** Backups that do not verify (damaged) or need a key (locked). */
  readonly unusable: number;
  /** Whether every file was read in full (`deep`), or headers only. */
  readonly verified: boolean;
  readonly error?: string;
}

/** Everything the Storage Health report shows, with nothing of VS Code in it. */
export interface StorageReport {
  readonly generatedAt: number;
  readonly storageDirectory: string;
  readonly deep: boolean;
  readonly stores: readonly StoreHealthReport[];
  readonly archive: ArchiveCheck | undefined;
  readonly backups: BackupsReport;
  readonly lease: LeaseReport;
  readonly encryption: { readonly encrypted: boolean; readonly detail: string };
  /** Damage, repairs and losses the runtime reported since it opened (newest last). */
  readonly events: readonly ReportedEvent[];
  /** The newest audit entries, when the runtime keeps an audit log. */
  readonly audit: readonly AuditEntry[] | undefined;
  readonly survival: SurvivalReport | undefined;
}

export interface StorageReportInput {
  /** The workspace's storage folder (`WorkspaceRuntime.storageDirectory`). */
  readonly storageDirectory: string;
  /** Metrics of the stores open in this process, by store name. */
  readonly liveStores?: readonly { readonly name: string; metrics(): StoreMetrics }[];
  /** The backups as the runtime's manager lists them. @default a read-only BackupManager on `<storage>/backups` */
  readonly listBackups?: (options: { verify: boolean }) => Promise<BackupInfo[]>;
  readonly events?: readonly ReportedEvent[];
  readonly audit?: () => Promise<readonly AuditEntry[]>;
  readonly survival?: SurvivalReport;
  /**
   * Also read every backup in full and check every archive shard with SQLite's integrity check
   * (needs `sqlWasmPath`): slower, for a Verify Storage command. @default false
   */
  readonly deep?: boolean;
  readonly sqlWasmPath?: string;
  /** @default Date.now */
  readonly now?: () => number;
}

/** What the report says of encryption: the files' headers, and encryption.json's intent (runtimeEncryption.ts). */
function encryptionReport(filesEncrypted: boolean, marker: EncryptionMarker | undefined): StorageReport['encryption'] {
  if (marker?.converting) {
    return {
      encrypted: filesEncrypted,
      detail: `being turned ${marker.enabled ? 'on' : 'off'}: the files are being re-sealed (the window that holds the queue finishes it, also after a crash)`,
    };
  }
  if (marker?.enabled || filesEncrypted) {
    const key = marker?.keyFingerprint ? ` with key ${marker.keyFingerprint}` : '';
    return {
      encrypted: true,
      detail: `encrypted at rest${key}; the key is in VS Code's secret storage, and Export Recovery Key… shows its recovery key`,
    };
  }
  return {
    encrypted: false,
    detail: 'not encrypted: anyone who can read the storage folder can read the queue, the history and job output',
  };
}

/** Folders of the storage folder that hold no durable store. */
const NOT_STORES = new Set(['backups', 'jobs', 'ui', 'quarantine']);

/**
 * Collects the Storage Health report of a workspace's storage folder. It only reads: the stores'
 * own checks (storeCheck.ts, archiveCheck.ts) run on the files as they are, so it is safe while
 * another process holds the queue, and from a terminal command with no runtime open.
 */
export async function collectStorageReport(input: StorageReportInput): Promise<StorageReport> {
  const now = input.now ?? Date.now;
  const deep = input.deep ?? false;
  const root = input.storageDirectory;
  const stores: StoreHealthReport[] = [];
  const folders = (await fs.readdir(root, { withFileTypes: true }).catch(() => []))
    .filter((entry) => entry.isDirectory() && !NOT_STORES.has(entry.name))
    .map((entry) => entry.name)
    .sort();
  for (const folder of folders) {
    const directory = join(root, folder);
    const names = await findStores(directory);
    const quarantine = await listQuarantine(directory);
    for (const [index, name] of names.entries()) {
      stores.push({
        name,
        folder,
        check: await checkStore({ directory, name }),
        live: input.liveStores?.find((store) => store.name === name)?.metrics(),
        // A folder's quarantine is shared by its stores: each shows its own files, the first also those of no store.
        quarantine: quarantine.filter((file) =>
          names.some((other) => file.original.startsWith(`${other}.`)) ? file.original.startsWith(`${name}.`) : index === 0,
        ),
      });
    }
  }
  const archive = await checkArchive(join(root, 'history', 'archive'), deep ? input.sqlWasmPath : undefined, listQuarantine);
  const encrypted = stores.some((store) => store.check.encrypted) || archive?.encrypted === true;
  return {
    generatedAt: now(),
    storageDirectory: root,
    deep,
    stores,
    archive,
    backups: await backupsReport(root, deep, input.listBackups),
    lease: await leaseReport(root, now()),
    encryption: encryptionReport(encrypted, await readEncryptionMarker(root)),
    events: input.events ?? [],
    audit: input.audit ? await input.audit().catch(() => undefined) : undefined,
    survival: input.survival,
  };
}

async function backupsReport(root: string, deep: boolean, listBackups: StorageReportInput['listBackups']): Promise<BackupsReport> {
  const list =
    listBackups ??
    ((options: { verify: boolean }) =>
      new BackupManager({
        directory: join(root, 'backups'),
        appVersion: 'report',
        // Listing never snapshots or installs.
        source: { snapshotParts: () => Promise.resolve([]), installParts: () => Promise.resolve() },
      }).list(options));
  try {
    const backups = await list({ verify: deep });
    return {
      count: backups.length,
      totalBytes: backups.reduce((total, backup) => total + backup.fileSize, 0),
      newest: backups[0],
      unusable: backups.filter((backup) => backup.status !== 'ok').length,
      verified: deep,
    };
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    return { count: 0, totalBytes: 0, newest: undefined, unusable: 0, verified: deep, error: missing ? undefined : String(error) };
  }
}

async function leaseReport(root: string, now: number): Promise<LeaseReport> {
  const lease = await readLease(root).catch(() => undefined);
  if (!lease) return { state: 'none' };
  if (lease.pid < 0) return { state: 'unreadable' };
  return {
    state: lease.state,
    pid: lease.pid,
    hostname: lease.hostname,
    activationId: lease.activationId,
    heartbeatAt: lease.heartbeatAt,
    stale: now - lease.heartbeatAt > DEFAULT_LEASE_STALE_AFTER_MS,
    thisProcess: lease.pid === process.pid && lease.hostname === hostname(),
  };
}

/** The files in `<directory>/quarantine/`, newest first. */
export async function listQuarantine(directory: string): Promise<QuarantinedFile[]> {
  const folder = join(directory, 'quarantine');
  const files: QuarantinedFile[] = [];
  for (const name of await fs.readdir(folder).catch(() => [] as string[])) {
    const stat = await fs.stat(join(folder, name)).catch(() => undefined);
    if (!stat?.isFile()) continue;
    // A store's quarantine names it `<file>.<ISO time, - for : and .>` (storageIo.ts), the archive's `<time>-<file>` (archiveRepair.ts).
    const original = basename(name)
      .replace(/\.\d{4}-\d{2}-\d{2}T[\d-]+Z(-\d+)?$/, '')
      .replace(/^\d{4}-\d{2}-\d{2}T[\d-]+Z-/, '');
    files.push({ name, original, bytes: stat.size, at: stat.mtimeMs });
  }
  return files.sort((a, b) => b.at - a.at);
}

/**
 * How the report reads the runtime's audit log, when it has one (`runtime.services.audit`): its
 * `recent(limit)`, or the file at its `path`. Undefined when there is no audit log.
 */
export function auditReader(service: unknown, limit = 20): (() => Promise<readonly AuditEntry[]>) | undefined {
  const audit = service as { recent?: (limit: number) => unknown; path?: unknown } | undefined;
  if (typeof audit?.recent === 'function') return async () => ((await audit.recent?.(limit)) as readonly AuditEntry[]).slice(-limit);
  if (typeof audit?.path === 'string') {
    const path = audit.path;
    return async () => (await readAuditLog(path)).slice(-limit);
  }
  return undefined;
}
