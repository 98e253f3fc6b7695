import { z } from 'zod';
import type { SqlValue } from './sqlLoader';
import { HistoryError } from './historyErrors';

/** How a job ended. */
export const jobFinalStates = ['succeeded', 'failed', 'cancelled', 'timedOut', 'interrupted'] as const;
export type JobFinalState = (typeof jobFinalStates)[number];

const stageSchema = z.object({ name: z.string(), command: z.string() }).loose();

/** A finished job as the history keeps it. Times are epoch milliseconds. */
export const historyEntrySchema = z.object({
  jobId: z.string().min(1).max(200),
  name: z.string().max(1000),
  /** A shell command, or… */
  command: z.string().optional(),
  /** …the named stages of a pipeline. */
  stages: z.array(stageSchema).optional(),
  cwd: z.string().optional(),
  state: z.enum(jobFinalStates),
  attempts: z.number().int().min(0),
  createdAt: z.number().int(),
  startedAt: z.number().int().optional(),
  finishedAt: z.number().int(),
  estimatedMs: z.number().min(0).optional(),
  durationMs: z.number().min(0).optional(),
  exitCode: z.number().int().optional(),
  error: z.string().optional(),
  warnings: z.array(z.string()).default([]),
  outputTail: z.string().optional(),
  files: z.array(z.string()).default([]),
  checkpoints: z.object({ count: z.number().int().min(0), last: z.string().optional(), lastAt: z.number().optional() }).optional(),
  tags: z.array(z.string().min(1).max(100)).default([]),
  /** Schema v2: time spent queued (startedAt - createdAt), backfilled for v1 rows. */
  queueWaitMs: z.number().optional(),
  /** Set on a copy restored from the archive: the shard it came from. */
  restoredFrom: z.string().optional(),
});
export type HistoryEntry = z.output<typeof historyEntrySchema>;
export type HistoryEntryInput = z.input<typeof historyEntrySchema>;

export function parseEntry(value: unknown): HistoryEntry {
  const parsed = historyEntrySchema.safeParse(value);
  if (!parsed.success) throw new HistoryError('invalidEntry', `Not a valid history entry: ${parsed.error.message}`);
  const entry = parsed.data;
  if (entry.queueWaitMs === undefined && entry.startedAt !== undefined) entry.queueWaitMs = entry.startedAt - entry.createdAt;
  return entry;
}

/** The text searched and matched for "earlier runs of the same command": the command, or the stages' commands. */
export function commandText(entry: Pick<HistoryEntry, 'command' | 'stages'>): string {
  if (entry.command !== undefined) return entry.command;
  return (entry.stages ?? []).map((stage) => stage.command).join(' && ');
}

/** Column order shared by the active database and the shards (after `seq` / rowid). */
export const entryColumns = [
  'job_id',
  'name',
  'command',
  'stages',
  'cwd',
  'state',
  'attempts',
  'created_at',
  'started_at',
  'finished_at',
  'estimated_ms',
  'duration_ms',
  'exit_code',
  'error',
  'warnings',
  'output_tail',
  'files',
  'checkpoints',
  'tags',
  'queue_wait_ms',
  'restored_from',
] as const;
/** The columns that version 1 had, for the v1 code path that writes fixtures and old shards. */
export const entryColumnsV1 = entryColumns.filter((c) => c !== 'queue_wait_ms');

const opt = <T>(value: T | undefined): T | null => (value === undefined ? null : value);
const json = (value: unknown): string | null => (value === undefined ? null : JSON.stringify(value));

export function entryToRow(entry: HistoryEntry): Record<(typeof entryColumns)[number], SqlValue> {
  return {
    job_id: entry.jobId,
    name: entry.name,
    command: commandText(entry),
    stages: json(entry.stages),
    cwd: opt(entry.cwd),
    state: entry.state,
    attempts: entry.attempts,
    created_at: entry.createdAt,
    started_at: opt(entry.startedAt),
    finished_at: entry.finishedAt,
    estimated_ms: opt(entry.estimatedMs),
    duration_ms: opt(entry.durationMs),
    exit_code: opt(entry.exitCode),
    error: opt(entry.error),
    warnings: JSON.stringify(entry.warnings),
    output_tail: opt(entry.outputTail),
    files: JSON.stringify(entry.files),
    checkpoints: json(entry.checkpoints),
    tags: JSON.stringify(entry.tags),
    queue_wait_ms: opt(entry.queueWaitMs),
    restored_from: opt(entry.restoredFrom),
  };
}

const num = (value: SqlValue | undefined): number | undefined => (typeof value === 'number' ? value : undefined);
const str = (value: SqlValue | undefined): string | undefined => (typeof value === 'string' ? value : undefined);

/** Reads a row of any schema version: a column an older version lacks reads as absent. */
export function rowToEntry(row: Record<string, SqlValue>): HistoryEntry {
  const stages = str(row.stages);
  const checkpoints = str(row.checkpoints);
  const entry: HistoryEntry = {
    jobId: String(row.job_id),
    name: String(row.name),
    state: row.state as JobFinalState,
    attempts: Number(row.attempts),
    createdAt: Number(row.created_at),
    finishedAt: Number(row.finished_at),
    warnings: JSON.parse(str(row.warnings) ?? '[]') as string[],
    files: JSON.parse(str(row.files) ?? '[]') as string[],
    tags: JSON.parse(str(row.tags) ?? '[]') as string[],
  };
  if (stages !== undefined) entry.stages = JSON.parse(stages) as HistoryEntry['stages'];
  else if (row.command !== null && row.command !== undefined) entry.command = String(row.command);
  const set = <K extends keyof HistoryEntry>(key: K, value: HistoryEntry[K] | undefined): void => {
    if (value !== undefined) entry[key] = value;
  };
  set('cwd', str(row.cwd));
  set('startedAt', num(row.started_at));
  set('estimatedMs', num(row.estimated_ms));
  set('durationMs', num(row.duration_ms));
  set('exitCode', num(row.exit_code));
  set('error', str(row.error));
  set('outputTail', str(row.output_tail));
  if (checkpoints !== undefined) entry.checkpoints = JSON.parse(checkpoints) as HistoryEntry['checkpoints'];
  set('queueWaitMs', num(row.queue_wait_ms));
  set('restoredFrom', str(row.restored_from));
  return entry;
}
