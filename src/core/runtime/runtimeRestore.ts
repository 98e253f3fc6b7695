import { join } from 'node:path';
import type { Clock } from '../clock';
import { DurableHistoryLog } from '../history/durableHistoryLog';
import type { JobHistory } from '../history/jobHistory';
import type { Logger } from '../logger';
import { DurableQueueLog } from '../queue/durableQueueLog';
import type { Job, QueueRecord } from '../queue/jobModel';
import type { QueueSession } from '../session/queueSession';
import type { DecodedBackup } from '../storage/backupFile';
import type { BackupInfo, BackupManager } from '../storage/backupManager';
import type { BackupPart } from '../storage/backupTypes';
import { durableBackupSource } from '../storage/durableBackupSource';
import type { BackupStoreEntry } from '../storage/durableBackupSource';
import { StorageError } from '../storage/errors';
import { fsp as fs } from '../storage/storageFs';
import type { RuntimeHistory } from './runtimeHistory';
import type { RecordCipher } from '../storage/cipher';
import { recordKeptJobs } from './restoreKeep';

/** Part names of the sealed archive's files (JobHistory.archiveBackupSource). */
export const ARCHIVE_PART_PREFIX = 'history-archive.';

export interface RestoreInPlaceDeps {
  readonly manager: BackupManager;
  readonly queue: QueueSession;
  readonly history: RuntimeHistory;
  readonly storageDirectory: string;
  readonly logger: Logger;
  readonly clock: Clock;
  /** The live stores besides the queue and the history (the state store), restored with replaceWith. */
  readonly otherStores: () => readonly BackupStoreEntry[];
  /** What the queue's files are sealed with (encryption at rest): the closed queue is opened with it to install. */
  readonly cipher?: () => RecordCipher | undefined;
  /** Run with the history closed, after its files were installed (encryption seals archive files restored plain). */
  readonly afterHistoryInstall?: () => Promise<void>;
  /** Told of the jobs restored as interrupted before the queue opens again, so the recovery policy leaves them alone. */
  readonly onInterrupted?: (jobs: readonly Job[]) => void;
}

/** What a restore in place did, for the person who asked and for the log. */
export interface RestoreInPlaceResult {
  readonly restored: BackupInfo;
  /** The backup of the state just before the restore ('beforeRestore'): restoring it undoes this one. */
  readonly safetyBackup: BackupInfo;
  /** Jobs that were running and are kept as they are, adopted again by the new runner. */
  readonly keptRunning: readonly string[];
  /** Jobs the backup holds as running whose run had ended here: their record from here is kept. */
  readonly keptFromLive: readonly string[];
  /**
   * Jobs the backup holds as running that this queue no longer has: restored as interrupted, left
   * to a person (the recovery policy never resumes them on its own: that run is long gone).
   */
  readonly interrupted: readonly Job[];
}

/**
 * Restores a backup into the open workspace without closing it (docs/backups.md, "Restore in
 * place"). Only the process that holds the queue restores. In order:
 *
 * 1. The backup is read and verified in full, and every part must be a store this runtime has:
 *    anything else is refused before anything is written (not even the safety backup).
 * 2. A 'beforeRestore' backup of the live stores is written (BackupManager.restore), with the
 *    archive's files when the backup restores them.
 * 3. The queue is closed and opened again around the install (QueueSession.reopenQueue): running
 *    jobs stay with their supervisors meanwhile; the history is closed after its part is
 *    installed; other stores (the state store) are replaced live.
 * 4. The queue is the backup's, merged with the jobs that ran here: a job running now is kept as
 *    it is now (the new runner adopts it and it ends with its own exit code, recorded once); a job
 *    the backup holds as running whose run ended here keeps its record from here (that run is not
 *    resumed twice); one the queue here no longer has becomes interrupted and is left to a person.
 * 5. The history opens again and reconciles with the restored queue; the queue's listeners get a
 *    `reset`, so views and panels show the restored state.
 */
export async function restoreInPlace(deps: RestoreInPlaceDeps, id: string): Promise<RestoreInPlaceResult> {
  const { manager, queue, history, logger } = deps;
  if (queue.role !== 'holder') {
    throw new StorageError('locked', 'Backups are restored by the window that holds the queue; this one does not.');
  }
  const otherNames = new Set(deps.otherStores().map((entry) => entry.store.name));
  const opened = await history.whenOpen();
  let archiveRestored = false;
  const check = (backup: DecodedBackup): void => {
    archiveRestored = restoresArchive(backup);
    for (const part of backup.parts) {
      const known =
        part.name === 'queue' || part.name === 'history' || part.name.startsWith(ARCHIVE_PART_PREFIX) || otherNames.has(part.name);
      if (!known) {
        throw new StorageError(
          'invalidBackup',
          `The backup holds a store "${part.name}" that this version does not have; nothing was restored.`,
        );
      }
      if ((part.name === 'history' || part.name.startsWith(ARCHIVE_PART_PREFIX)) && !opened) {
        throw new StorageError('locked', 'The job history is not open in this window, so a backup holding it cannot be restored here.');
      }
    }
  };
  let kept: Pick<RestoreInPlaceResult, 'keptRunning' | 'keptFromLive' | 'interrupted'> = {
    keptRunning: [],
    keptFromLive: [],
    interrupted: [],
  };
  const started = performance.now();
  const { restored, safetyBackup } = await manager.restore(id, {
    check,
    safetyParts: async () => (archiveRestored && opened ? opened.archiveBackupSource().snapshotParts() : []),
    install: async (parts, { safetyBackup }) => {
      await queue.reopenQueue(async (before) => {
        await history.suspend(async (live) => {
          await installHistory(live, parts);
          await deps.afterHistoryInstall?.();
        });
        const others = parts.filter((part) => otherNames.has(part.name));
        if (others.length > 0) await durableBackupSource(deps.otherStores()).installParts(others);
        const queuePart = parts.find((part) => part.name === 'queue');
        if (queuePart) {
          const installed = await installQueue(join(deps.storageDirectory, 'queue'), queuePart, before.jobs, deps);
          kept = installed;
          // Before the queue opens again (its sweep deletes the files of jobs it does not name).
          const removed = before.jobs.filter((job) => !installed.restoredIds.has(job.id)).map((job) => job.id);
          await recordKeptJobs(deps.storageDirectory, safetyBackup.id, removed);
        }
        deps.onInterrupted?.(kept.interrupted);
      });
      await history.resume();
    },
  });
  const info = (await manager.list()).find((candidate) => candidate.id === id);
  logger.info(
    `[backups] restored ${id} in place in ${Math.round(performance.now() - started)} ms (${restored.parts.map((part) => part.name).join(', ')}); the state before it is in ${safetyBackup.id}; ${kept.keptRunning.length} running job(s) kept`,
  );
  return {
    restored: info ?? { ...safetyBackup, id, reason: restored.manifest.reason },
    safetyBackup,
    ...kept,
  };
}

function restoresArchive(backup: DecodedBackup): boolean {
  return backup.parts.some((part) => part.name.startsWith(ARCHIVE_PART_PREFIX));
}

/** The history's parts into the open history (its store replaced, its archive files written and reloaded). */
async function installHistory(history: JobHistory | undefined, parts: readonly BackupPart[]): Promise<void> {
  const active = parts.find((part) => part.name === 'history');
  const archive = parts.filter((part) => part.name.startsWith(ARCHIVE_PART_PREFIX));
  if (!history || (!active && archive.length === 0)) return;
  if (active) {
    const store = history.log instanceof DurableHistoryLog ? history.log.durableStore : undefined;
    if (!store) throw new StorageError('locked', 'The job history is not on a durable store here, so it cannot be restored.');
    await store.replaceWith(active.bytes);
  }
  // After the active history: the reload reconciles the two, so no entry shows twice.
  if (archive.length > 0) await history.archiveBackupSource().installParts(archive);
}

/**
 * Installs the backup's queue into the closed queue folder, then writes, as ordinary records after
 * it, the jobs that ran here (step 4 above), so the store alone decides what the queue holds.
 */
async function installQueue(
  directory: string,
  part: BackupPart,
  live: readonly Job[],
  deps: RestoreInPlaceDeps,
): Promise<Pick<RestoreInPlaceResult, 'keptRunning' | 'keptFromLive' | 'interrupted'> & { restoredIds: ReadonlySet<string> }> {
  const log = new DurableQueueLog({ directory, logger: deps.logger, compaction: false, cipher: deps.cipher?.() });
  await log.load();
  const store = log.durableStore;
  if (!store) throw new StorageError('closed', 'The queue store did not open.');
  try {
    await store.replaceWith(part.bytes);
    const liveById = new Map(live.map((job) => [job.id, job]));
    const records: QueueRecord[] = [];
    const keptRunning: string[] = [];
    const keptFromLive: string[] = [];
    const interrupted: Job[] = [];
    for (const job of live) {
      if (job.state !== 'running') continue;
      records.push({ t: 'job', job });
      keptRunning.push(job.id);
    }
    const now = deps.clock.now();
    for (const job of store.state.jobs.values()) {
      if (job.state !== 'running' || liveById.get(job.id)?.state === 'running') continue;
      const here = liveById.get(job.id);
      if (here) {
        records.push({ t: 'job', job: here });
        keptFromLive.push(job.id);
        continue;
      }
      const lost: Job = {
        ...job,
        state: 'interrupted',
        interruptions: job.interruptions + 1,
        finishedAt: now,
        pid: undefined,
        process: undefined,
        deadlineAt: undefined,
        stageDeadlineAt: undefined,
        stopReason: undefined,
        result: {
          exitCode: null,
          signal: null,
          error: 'restored from a backup taken while it ran; that run is gone',
          warnings: [],
          files: [],
        },
      };
      records.push({ t: 'job', job: lost });
      interrupted.push(lost);
    }
    if (records.length > 0) await store.commit(records);
    return { keptRunning, keptFromLive, interrupted, restoredIds: new Set(store.state.jobs.keys()) };
  } finally {
    await log.close();
  }
}

/** The sealed archive's size on disk (its index and shards): what including it adds to a backup, before compression. */
export async function archiveBytes(storageDirectory: string): Promise<{ bytes: number; files: number }> {
  const directory = join(storageDirectory, 'history', 'archive');
  let bytes = 0;
  let files = 0;
  for (const name of [
    'index.json',
    ...(await fs.readdir(join(directory, 'shards')).catch(() => [] as string[])).map((file) => join('shards', file)),
  ]) {
    const stat = await fs.stat(join(directory, name)).catch(() => undefined);
    if (!stat?.isFile()) continue;
    bytes += stat.size;
    files++;
  }
  return { bytes, files };
}
