import { z } from 'zod';
import type { JobDefinition } from '../../shared/workspaceConfig';
import { retryOverrideSchema, retryPolicySchema } from './retryPolicy';

/**
 * The queue's data model. A job is stored whole: every change writes the job's new value as one
 * record, so a record never depends on the one before it and replay is a plain upsert.
 *
 * Order of the queue (documented in the issue, tested in queueOrder.test.ts): higher `priority`
 * first, then lower `position`, then earlier `createdAt`, then `id`. `position` is a number that
 * `move` sets between its new neighbours; new jobs go to the end of their priority.
 */

export const JOB_STATES = ['queued', 'delayed', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const FINISHED_STATES: ReadonlySet<JobState> = new Set(['succeeded', 'failed', 'cancelled']);
export const PENDING_STATES: ReadonlySet<JobState> = new Set(['queued', 'delayed']);

export const DEFAULT_GROUP = 'default';

/**
 * The process a running stage is (pid, the kernel's start time of that pid, host), kept with the
 * job so that an orphaned group can be stopped after its runner died. The queue's own copy of the
 * shape; the supervisor's wire has its own (src/shared/supervisor/supervisorWire.ts).
 */
export const processIdentitySchema = z.object({ pid: z.number().int().positive(), startTime: z.string().optional(), host: z.string() });
export type ProcessIdentity = z.infer<typeof processIdentitySchema>;

const envSchema = z.record(z.string(), z.string());

export const stageSchema = z.object({
  name: z.string().min(1),
  command: z.string().min(1),
  /** Absolute: resolved against the base directory at enqueue. */
  cwd: z.string().min(1),
  env: envSchema.optional(),
  outputs: z.array(z.string()).default([]),
  timeoutMs: z.number().positive().optional(),
  /** Between SIGTERM and SIGKILL when the stage is stopped; undefined: the runner's default (the setting). */
  killGraceMs: z.number().nonnegative().optional(),
});
export type Stage = z.infer<typeof stageSchema>;

export const jobResultSchema = z.object({
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  error: z.string().optional(),
  warnings: z.array(z.string()).default([]),
  /** Declared outputs of completed stages that existed when the job ended. */
  files: z.array(z.string()).default([]),
  /** The attempt was stopped by its job or stage timeout. */
  timedOut: z.boolean().optional(),
});
export type JobResult = z.infer<typeof jobResultSchema>;

export const jobSchema = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  kind: z.enum(['command', 'pipeline']),
  group: z.string().min(1).default(DEFAULT_GROUP),
  stages: z.array(stageSchema).min(1),
  priority: z.number().int(),
  position: z.number(),
  tags: z.array(z.string()).default([]),
  state: z.enum(JOB_STATES),
  createdAt: z.number(),
  startedAt: z.number().optional(),
  finishedAt: z.number().optional(),
  /** Absolute time before which the job does not start: delayed start or retry backoff. */
  notBefore: z.number().optional(),
  timeoutMs: z.number().positive().optional(),
  /** Absolute deadlines of the running attempt; re-armed with the remaining time after a restart. */
  deadlineAt: z.number().optional(),
  stageDeadlineAt: z.number().optional(),
  retry: retryPolicySchema,
  estimatedDurationMs: z.number().nonnegative().optional(),
  actualDurationMs: z.number().nonnegative().optional(),
  attempts: z.number().int().nonnegative(),
  progress: z.object({ fraction: z.number().min(0).max(1).optional(), message: z.string().optional() }).optional(),
  /** Index into `stages` of the stage running now, or last run. */
  currentStage: z.number().int().nonnegative().optional(),
  completedStages: z.array(z.string()).default([]),
  checkpoint: z.string().optional(),
  pid: z.number().int().optional(),
  /** The running stage's process group leader, to stop it if the runner dies without an exit record. */
  process: processIdentitySchema.optional(),
  /** Why the running attempt is being stopped; decides the state it ends in. */
  stopReason: z.enum(['cancel', 'jobTimeout', 'stageTimeout']).optional(),
  result: jobResultSchema.optional(),
  /**
   * Interruptions in a row, counted by the queue whenever the job becomes interrupted and reset
   * when it ends. Recovery never auto-resumes a job interrupted twice in a row: the job itself may
   * be what brings its host down.
   */
  interruptions: z.number().int().nonnegative().default(0),
  /** Set when the user discarded the interrupted job: its partial outputs were removed. */
  abandoned: z.boolean().optional(),
});
export type Job = z.infer<typeof jobSchema>;

/** A job interrupted this many times in a row is left for the user to resume. */
export const MAX_AUTO_RESUMED_INTERRUPTIONS = 2;

/** Most jobs that run at once: the limit the queue accepts, and the setting's maximum in package.json. */
export const MAX_CONCURRENCY = 256;

export const queueFlagsSchema = z.object({
  /** The user paused the queue: nothing new starts until resumed. */
  paused: z.boolean().default(false),
  /** Start scheduling by itself when the queue opens (unless paused). */
  autoRun: z.boolean().default(true),
  concurrency: z.number().int().min(1).max(MAX_CONCURRENCY).default(1),
});
export type QueueFlags = z.infer<typeof queueFlagsSchema>;

/** Every command the queue accepts, locally or from a client through the socket. */
export const queueCommandSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('enqueue'),
      /** A job definition as in `.vscode/lifeline.json`; validated by {@link buildJob} for precise messages. */
      definition: z.custom<JobDefinition>((value) => typeof value === 'object' && value !== null, 'a job definition is an object'),
      /** A caller-chosen id makes enqueue idempotent by job too. */
      jobId: z.string().min(1).max(100).optional(),
      group: z.string().min(1).max(100).optional(),
      /** Delayed start: absolute time in ms since the epoch. */
      runAt: z.number().optional(),
      estimatedDurationMs: z.number().nonnegative().optional(),
      /** Relative cwds resolve against this; default: the queue's base directory. */
      baseDir: z.string().min(1).optional(),
      retry: retryOverrideSchema.optional(),
    })
    .strict(),
  z.object({ type: z.literal('cancel'), jobId: z.string().min(1) }).strict(),
  /** Runs a failed, cancelled or interrupted job again from its first stage, attempts reset. */
  z.object({ type: z.literal('retry'), jobId: z.string().min(1) }).strict(),
  /** Runs an interrupted or failed job again from its first incomplete stage, with its checkpoint. */
  z.object({ type: z.literal('resume'), jobId: z.string().min(1) }).strict(),
  /** Gives up an interrupted job: removes the declared outputs of its unfinished stages and ends it cancelled and abandoned. */
  z.object({ type: z.literal('discard'), jobId: z.string().min(1) }).strict(),
  /** Moves a pending job just before or after another pending job, taking that job's priority. */
  z
    .object({
      type: z.literal('move'),
      jobId: z.string().min(1),
      before: z.string().min(1).optional(),
      after: z.string().min(1).optional(),
    })
    .strict()
    .refine((c) => (c.before === undefined) !== (c.after === undefined), 'give exactly one of before and after'),
  z.object({ type: z.literal('setPriority'), jobId: z.string().min(1), priority: z.number().int().min(-100).max(100) }).strict(),
  z
    .object({
      type: z.literal('clearFinished'),
      /** Only these of the finished jobs (Cleanup's retention); all of them when absent. */
      jobIds: z.array(z.string().min(1)).max(100_000).optional(),
    })
    .strict(),
  z.object({ type: z.literal('setPaused'), paused: z.boolean() }).strict(),
  z.object({ type: z.literal('setAutoRun'), autoRun: z.boolean() }).strict(),
  z.object({ type: z.literal('setConcurrency'), limit: z.number().int().min(1).max(MAX_CONCURRENCY) }).strict(),
]);
export type QueueCommand = z.infer<typeof queueCommandSchema>;

/**
 * Who asked for a change, for the audit log (docs/audit.md): a window (its commands, views and
 * panels), the terminal, an agent, another extension, or the runtime itself (recovery, settings, cleanup).
 */
export const auditOriginSchema = z
  .object({
    kind: z.enum(['window', 'terminal', 'agent', 'extension', 'runtime']),
    /** The window's session, the extension's id, the agent's name… */
    id: z.string().max(200).optional(),
    label: z.string().max(200).optional(),
  })
  .strict();
export type AuditOrigin = z.infer<typeof auditOriginSchema>;

/** A command with the id that makes it take effect once, even when sent again after a takeover. */
export interface CommandEnvelope {
  readonly commandId: string;
  readonly command: QueueCommand;
  /** Who sent it; recorded with the command in its journal record (the audit log). */
  readonly origin?: AuditOrigin;
}

/**
 * What the audit log keeps of a command, written in the command's own `cmd` journal record, so it
 * is on disk exactly when the change is (no second file to sync before the acknowledgement).
 */
export const commandAuditSchema = z.object({
  at: z.number(),
  /** The command's type. */
  action: z.string(),
  origin: auditOriginSchema.optional(),
  jobId: z.string().optional(),
  /** The job's name, as it was then. */
  job: z.string().optional(),
  detail: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
});
export type CommandAudit = z.infer<typeof commandAuditSchema>;

export const commandResultSchema = z.object({ jobId: z.string().optional(), count: z.number().optional() });
export type CommandResult = z.infer<typeof commandResultSchema>;

/** A journal record. A commit is an array of these, applied all or nothing. */
export const queueRecordSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('job'), job: jobSchema }),
  z.object({ t: z.literal('remove'), ids: z.array(z.string()) }),
  z.object({ t: z.literal('flags'), flags: queueFlagsSchema }),
  z.object({ t: z.literal('cmd'), id: z.string(), result: commandResultSchema, audit: commandAuditSchema.optional() }),
]);
export type QueueRecord = z.infer<typeof queueRecordSchema>;

export const QUEUE_SNAPSHOT_VERSION = 1;
export const queueSnapshotSchema = z.object({
  version: z.literal(QUEUE_SNAPSHOT_VERSION),
  flags: queueFlagsSchema,
  jobs: z.array(jobSchema),
  /** Recently applied command ids with their results, oldest first: the dedupe window. */
  commands: z.array(z.tuple([z.string(), commandResultSchema])),
  /** The newest commands' audit records, oldest first (QueueState.audit): the audit log's write-ahead copy. */
  audit: z.array(z.tuple([z.string(), commandAuditSchema])).optional(),
});
export type QueueSnapshot = z.infer<typeof queueSnapshotSchema>;

const snapshotEnvelopeSchema = queueSnapshotSchema.extend({ jobs: z.array(z.unknown()) });

/**
 * Validates a snapshot as `queueSnapshotSchema` does, job by job: measured about 4 times faster for
 * 10,000 jobs than one parse of the whole array, which decides whether a big queue opens in time.
 */
export function parseQueueSnapshot(value: unknown): QueueSnapshot {
  const envelope = snapshotEnvelopeSchema.parse(value);
  return { ...envelope, jobs: envelope.jobs.map((job) => jobSchema.parse(job)) };
}

/** Compares two jobs in queue order: higher priority, then lower position, then older, then id. */
export function compareJobs(a: Job, b: Job): number {
  return b.priority - a.priority || a.position - b.position || a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
