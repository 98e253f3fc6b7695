import { join } from 'node:path';
import type { Job } from '../core/queue/jobModel';
import { BackupManager } from '../core/storage/backupManager';
import type { RecordCipher } from '../core/storage/cipher';
import { StorageError } from '../core/storage/errors';
import type { BackupInfo } from '../core/storage/backupManager';
import { readJobJournal } from '../core/supervisors/journalCheck';
import { readLease } from '../core/session/lease';
import { jobFilePaths } from '../shared/supervisor/node/jobFilePaths';
import type { CliContext } from './cliContext';
import { withReadOnlyStores } from './cliContext';
import type { Problem, Severity } from './findings';
import { problemOf, worst } from './findings';
import { describeHolder } from './cliLease';
import { BACKUPS_FOLDER, JOBS_FOLDER } from './storeSet';
import type { StoreSet } from './storeSet';

export interface StoreSummary {
  readonly jobs: number;
  readonly historyEntries: number;
  readonly archivedShards: number;
  /** Keys of the state store; undefined when the folder has none. */
  readonly stateKeys: number | undefined;
}

export interface Assessment {
  readonly directory: string;
  readonly workspaceKey: string | undefined;
  readonly verdict: 'healthy' | 'repairable' | 'damaged';
  readonly problems: readonly Problem[];
  readonly stores: StoreSummary;
  readonly backups: readonly { readonly id: string; readonly status: BackupInfo['status']; readonly problem?: string }[];
  /** Who holds the lease now, when anyone does. */
  readonly holder: string | undefined;
}

export function summarize(stores: StoreSet): StoreSummary {
  return {
    jobs: stores.queue.durableStore?.state.jobs.size ?? 0,
    historyEntries: stores.history?.active.count ?? 0,
    archivedShards: stores.history?.archive.shards.length ?? 0,
    stateKeys: stores.state?.durable ? [...stores.state.durable.state.values()].reduce((n, keys) => n + keys.size, 0) : undefined,
  };
}

/**
 * The journals of runs the queue still waits on (running or interrupted jobs, the next open
 * settles them from it), read as the supervisors' host reads them: a loss is a problem. A torn
 * last write of a run with no exit is not: its supervisor may be writing it now. An encrypted
 * journal is read with `cipher` (the recovery key's); without it the StorageError 'missingKey' /
 * 'wrongKey' goes up (the folder is locked, exit 4); a record that does not open with it is a loss.
 */
export function journalProblems(jobsDir: string, jobs: Iterable<Job>, cipher?: RecordCipher): Problem[] {
  const problems: Problem[] = [];
  for (const job of jobs) {
    if ((job.state !== 'running' && job.state !== 'interrupted') || job.attempts === 0) continue;
    const { journalPath } = jobFilePaths(jobsDir, job.id, job.attempts);
    let read: ReturnType<typeof readJobJournal>;
    try {
      read = readJobJournal(journalPath, { jobId: job.id, attempt: job.attempts, queueSawStart: job.pid !== undefined }, cipher);
    } catch (error) {
      if (!StorageError.is(error, 'decryptFailed')) throw error;
      problems.push({ where: `job journal ${journalPath}`, severity: 'lost', detail: `"${job.name}": ${error.message}` });
      continue;
    }
    if (read.loss) problems.push({ where: `job journal ${journalPath}`, severity: 'lost', detail: `"${job.name}": ${read.loss.detail}` });
  }
  return problems;
}

/** Every backup, read in full; a damaged one is a problem (`repair` sets it aside), a locked one is not. */
export async function backupProblems(context: CliContext): Promise<{ backups: Assessment['backups']; problems: Problem[] }> {
  const manager = new BackupManager({
    directory: join(context.directory, BACKUPS_FOLDER),
    source: { snapshotParts: async () => [], installParts: async () => undefined },
    appVersion: 'lifeline-store',
    cipher: context.cipher,
  });
  const infos = await manager.list({ verify: true });
  const problems: Problem[] = infos
    .filter((info) => info.status === 'damaged')
    .map((info) => ({
      where: `backup ${info.id}`,
      severity: 'repairable' as Severity,
      detail: `does not verify: ${info.problem?.message ?? 'unknown'}`,
    }));
  return { backups: infos.map((info) => ({ id: info.id, status: info.status, problem: info.problem?.message })), problems };
}

/** Checks every store of the folder without changing it: the stores are opened on a copy. */
export async function assess(context: CliContext): Promise<Assessment> {
  const opened = await withReadOnlyStores(context, async (stores) => ({
    summary: summarize(stores),
    problems: [
      ...stores.findings.map(problemOf).filter((problem): problem is Problem => problem !== undefined),
      ...journalProblems(join(context.directory, JOBS_FOLDER), stores.queue.durableStore?.state.jobs.values() ?? [], context.cipher),
    ],
  }));
  const backups = await backupProblems(context);
  const problems = [...opened.problems, ...backups.problems];
  const lease = await readLease(context.directory);
  const severity = worst(problems);
  return {
    directory: context.directory,
    workspaceKey: context.workspaceKey,
    verdict: severity === undefined ? 'healthy' : severity === 'lost' ? 'damaged' : 'repairable',
    problems,
    stores: opened.summary,
    backups: backups.backups,
    holder: lease ? await describeHolder(context.directory, lease) : undefined,
  };
}

/** The human report of an assessment. */
export function formatAssessment(assessment: Assessment): string {
  const { stores } = assessment;
  const lines = [
    `Storage folder: ${assessment.directory}`,
    ...(assessment.workspaceKey ? [`Workspace:      ${assessment.workspaceKey}`] : []),
    `Lease:          ${assessment.holder ?? 'not held (no window has the queue open)'}`,
    `Queue:          ${stores.jobs} job(s)`,
    `History:        ${stores.historyEntries} recent entr${stores.historyEntries === 1 ? 'y' : 'ies'}, ${stores.archivedShards} archive shard(s)`,
    `State:          ${stores.stateKeys === undefined ? 'absent' : `${stores.stateKeys} key(s)`}`,
    `Backups:        ${assessment.backups.length} (${assessment.backups.filter((b) => b.status === 'ok').length} verify, ${assessment.backups.filter((b) => b.status === 'locked').length} locked, ${assessment.backups.filter((b) => b.status === 'damaged').length} damaged)`,
    '',
  ];
  if (assessment.problems.length === 0) lines.push('Healthy: every store verifies.');
  else {
    for (const problem of assessment.problems) {
      lines.push(`${problem.severity === 'lost' ? 'LOST      ' : 'repairable'}  ${problem.where}: ${problem.detail}`);
    }
    lines.push('');
    lines.push(
      assessment.verdict === 'damaged'
        ? 'Damaged: acknowledged data is lost (above). `lifeline-store repair` keeps what verifies and sets the damaged files aside.'
        : 'Repairable: nothing acknowledged is lost. `lifeline-store repair` rebuilds the damaged files from the good copies.',
    );
  }
  return lines.join('\n') + '\n';
}
