import { DEFAULT_MAX_ACTIVE_ENTRIES } from '../history/jobHistory';
import { DEFAULT_LOG_LIMIT_BYTES } from '../supervisors/supervisorRunner';
import { DEFAULT_KILL_GRACE_MS as STAGE_KILL_GRACE_MS } from '../../shared/supervisor/node/processTree';
import type { RecoveryPolicy } from './recoveryPolicy';

/**
 * What a workspace runtime may be tuned by. The VS Code layer maps Lifeline's settings onto it
 * (`readSettings` in src/vscode/settings.ts); a terminal command or an agent server passes its own. Every
 * field has a default equal to the manifest's (an integration test compares the two).
 */
export interface RuntimeOptions {
  /** Jobs run at once; the queue's flag follows it while this runtime holds the queue. @default 2 */
  readonly concurrency: number;
  /** What happens to jobs found interrupted. @default 'prompt' */
  readonly recoveryPolicy: RecoveryPolicy;
  /** The cap of each job's output log, head and tail kept. @default 8 MiB */
  readonly outputLimitBytes: number;
  /** How long no process may hold the queue before running jobs are stopped; undefined lets them finish. @default undefined */
  readonly stopWithoutHostAfterMs: number | undefined;
  /** Between SIGTERM and SIGKILL when a job is cancelled or times out. @default 10000 */
  readonly killGraceMs: number;
  /** Entries the history keeps active before archiving. @default 100 */
  readonly historyMaxActiveEntries: number;
  /** Archived history older than this many days is deleted; 0 keeps it forever. @default 0 */
  readonly historyRetentionDays: number;
  /** Hours between automatic backups while this runtime holds the queue, taken only if something changed; 0 for none. @default 24 */
  readonly backupIntervalHours: number;
  /** Automatic backups kept of each kind (scheduled, before a migration, before a restore). @default 10 */
  readonly backupKeep: number;
  /** Automatic backups older than this many days are deleted, the newest of each kind aside; 0 keeps them by count only. @default 30 */
  readonly backupMaxAgeDays: number;
  /** Below this much free space (MB) on the storage folder's disk no new job starts; 0 turns the check off. @default 200 */
  readonly storageMinFreeMB: number;
  /** Hours between cleanups while this runtime holds the queue; 0 for none (docs/cleanup.md). @default 6 */
  readonly cleanupIntervalHours: number;
  /** Days after which the files of failed and cancelled jobs are removed; 0 keeps them. @default 7 */
  readonly failedJobRetentionDays: number;
  /** Days after which finished jobs leave the queue (they stay in the history); 0 keeps them. @default 30 */
  readonly finishedJobRetentionDays: number;
  /** Days after which quarantined files are removed, the newest of each store aside; 0 keeps them. @default 30 */
  readonly quarantineRetentionDays: number;
  /**
   * Where new supervisors start: `shared`, in this process's control group; `separate`, in their own
   * systemd user scope where `systemd-run --user --scope` works, so that stopping the service that
   * runs VS Code's server does not stop running jobs (docs/storage-health.md). @default 'shared'
   */
  readonly supervisorScope: SupervisorScope;
}

export type SupervisorScope = 'shared' | 'separate';

/** The defaults, equal to package.json's `contributes.configuration` defaults. */
export const DEFAULT_CONCURRENCY = 2;
export const DEFAULT_RECOVERY_POLICY: RecoveryPolicy = 'prompt';
export const DEFAULT_OUTPUT_LIMIT_BYTES = DEFAULT_LOG_LIMIT_BYTES;
export const DEFAULT_STOP_WITHOUT_HOST_AFTER_MS: number | undefined = undefined;
export const DEFAULT_KILL_GRACE_MS = STAGE_KILL_GRACE_MS;
export const DEFAULT_HISTORY_MAX_ACTIVE_ENTRIES = DEFAULT_MAX_ACTIVE_ENTRIES;
export const DEFAULT_HISTORY_RETENTION_DAYS = 0;
export const DEFAULT_BACKUP_INTERVAL_HOURS = 24;
export const DEFAULT_BACKUP_KEEP = 10;
export const DEFAULT_BACKUP_MAX_AGE_DAYS = 30;
export const DEFAULT_STORAGE_MIN_FREE_MB = 200;
export const DEFAULT_CLEANUP_INTERVAL_HOURS = 6;
export const DEFAULT_FAILED_JOB_RETENTION_DAYS = 7;
export const DEFAULT_FINISHED_JOB_RETENTION_DAYS = 30;
export const DEFAULT_QUARANTINE_RETENTION_DAYS = 30;
export const DEFAULT_SUPERVISOR_SCOPE: SupervisorScope = 'shared';

export const DEFAULT_RUNTIME_OPTIONS: RuntimeOptions = Object.freeze({
  concurrency: DEFAULT_CONCURRENCY,
  recoveryPolicy: DEFAULT_RECOVERY_POLICY,
  outputLimitBytes: DEFAULT_OUTPUT_LIMIT_BYTES,
  stopWithoutHostAfterMs: DEFAULT_STOP_WITHOUT_HOST_AFTER_MS,
  killGraceMs: DEFAULT_KILL_GRACE_MS,
  historyMaxActiveEntries: DEFAULT_HISTORY_MAX_ACTIVE_ENTRIES,
  historyRetentionDays: DEFAULT_HISTORY_RETENTION_DAYS,
  backupIntervalHours: DEFAULT_BACKUP_INTERVAL_HOURS,
  backupKeep: DEFAULT_BACKUP_KEEP,
  backupMaxAgeDays: DEFAULT_BACKUP_MAX_AGE_DAYS,
  storageMinFreeMB: DEFAULT_STORAGE_MIN_FREE_MB,
  cleanupIntervalHours: DEFAULT_CLEANUP_INTERVAL_HOURS,
  failedJobRetentionDays: DEFAULT_FAILED_JOB_RETENTION_DAYS,
  finishedJobRetentionDays: DEFAULT_FINISHED_JOB_RETENTION_DAYS,
  quarantineRetentionDays: DEFAULT_QUARANTINE_RETENTION_DAYS,
  supervisorScope: DEFAULT_SUPERVISOR_SCOPE,
});
