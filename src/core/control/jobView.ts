import { z } from 'zod';
import type { DisplayState } from '../../shared/jobDisplay';
import { displayState, displayStates } from '../../shared/jobDisplay';
import type { Job } from '../queue/jobModel';

/**
 * A job as the terminal, agents and chat see it: the one shape `lifeline status --json`, the MCP
 * tools and the language-model tool return. Its version is part of the output
 * ({@link JOB_VIEW_SCHEMA_VERSION}); fields are only ever added within a version (docs/cli.md).
 */
export const JOB_VIEW_SCHEMA_VERSION = 1;

export const jobViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(['command', 'pipeline']),
  /** As people see it: `failed` by a timeout reads `timedOut`. */
  state: z.enum(displayStates),
  /** Whether the job will not change by itself any more (succeeded, failed, timed out, cancelled). */
  finished: z.boolean(),
  priority: z.number().int(),
  tags: z.array(z.string()),
  /** The command of a single-command job; a pipeline's stages are in `stages`. */
  command: z.string().optional(),
  stages: z.array(z.object({ name: z.string(), command: z.string(), completed: z.boolean() })),
  /** The stage running now, or last run (1-based `number`). */
  stage: z.object({ number: z.number().int().positive(), name: z.string(), of: z.number().int().positive() }).optional(),
  progress: z.object({ fraction: z.number().min(0).max(1).optional(), message: z.string().optional() }).optional(),
  attempts: z.number().int().nonnegative(),
  createdAt: z.string(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  /** Not before this time (a delayed start or a retry's backoff). */
  startsAt: z.string().optional(),
  durationMs: z.number().nonnegative().optional(),
  /** From the history's earlier runs of the same work, while the job runs. */
  estimatedRemainingMs: z.number().nonnegative().optional(),
  exitCode: z.number().int().nullable().optional(),
  signal: z.string().nullable().optional(),
  error: z.string().optional(),
  checkpoint: z.string().optional(),
});
export type JobView = z.infer<typeof jobViewSchema>;

/** `lifeline status --json`: the whole answer. */
export const statusSchema = z.object({
  schemaVersion: z.literal(JOB_VIEW_SCHEMA_VERSION),
  workspace: z.string(),
  paused: z.boolean(),
  concurrency: z.number().int().positive(),
  jobs: z.array(jobViewSchema),
});
export type StatusView = z.infer<typeof statusSchema>;

const FINISHED: ReadonlySet<DisplayState> = new Set(['succeeded', 'failed', 'timedOut', 'cancelled']);

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

export function jobView(job: Job, now: number): JobView {
  const state = displayState(job);
  const stage = job.currentStage === undefined ? undefined : job.stages[job.currentStage];
  const end = job.finishedAt ?? (job.state === 'running' ? now : undefined);
  const durationMs = job.startedAt !== undefined && end !== undefined ? Math.max(0, end - job.startedAt) : undefined;
  const remaining =
    job.state === 'running' && job.estimatedDurationMs !== undefined && durationMs !== undefined
      ? Math.max(0, job.estimatedDurationMs - durationMs)
      : undefined;
  const completed = new Set(job.completedStages);
  const view: JobView = {
    id: job.id,
    name: job.name,
    kind: job.kind,
    state,
    finished: FINISHED.has(state),
    priority: job.priority,
    tags: [...job.tags],
    command: job.kind === 'command' ? job.stages[0]?.command : undefined,
    stages: job.stages.map((s) => ({ name: s.name, command: s.command, completed: completed.has(s.name) })),
    stage: stage && job.currentStage !== undefined ? { number: job.currentStage + 1, name: stage.name, of: job.stages.length } : undefined,
    progress: job.progress ? { ...job.progress } : undefined,
    attempts: job.attempts,
    createdAt: iso(job.createdAt) as string,
    startedAt: iso(job.startedAt),
    finishedAt: iso(job.finishedAt),
    startsAt: PENDING.has(job.state) ? iso(job.notBefore) : undefined,
    durationMs,
    estimatedRemainingMs: remaining,
    exitCode: job.result?.exitCode,
    signal: job.result?.signal,
    error: job.result?.error,
    checkpoint: job.checkpoint,
  };
  // Leave out what is not known rather than write `undefined` keys: the JSON stays small and stable.
  return Object.fromEntries(Object.entries(view).filter(([, value]) => value !== undefined)) as JobView;
}

const PENDING: ReadonlySet<string> = new Set(['queued', 'delayed']);

/** Exit statuses of `lifeline wait` (docs/cli.md): the job's own, or these for what is not an exit code. */
export const EXIT = {
  ok: 0,
  /** A failed job with no exit code or signal (it could not start). */
  failedToStart: 1,
  usage: 2,
  unknownJob: 4,
  /** A job interrupted (its host went away) and waiting to be resumed. */
  interrupted: 75,
  /** The queue cannot be opened here: untrusted, locked (no key), no storage folder. */
  unavailable: 69,
  internal: 70,
  /** `--timeout` passed with jobs still unfinished, as timeout(1). */
  timedOut: 124,
  cancelled: 130,
} as const;

const SIGNALS: Readonly<Record<string, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGABRT: 6,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
};

/** The exit status that mirrors a job's result, as a shell would report the command. */
export function exitStatusOf(view: JobView): number {
  switch (view.state) {
    case 'succeeded':
      return EXIT.ok;
    case 'cancelled':
      return EXIT.cancelled;
    case 'interrupted':
      return EXIT.interrupted;
    case 'failed':
    case 'timedOut':
      if (typeof view.exitCode === 'number') return view.exitCode === 0 ? EXIT.failedToStart : view.exitCode & 0xff || EXIT.failedToStart;
      if (typeof view.signal === 'string') return 128 + (SIGNALS[view.signal] ?? 15);
      return EXIT.failedToStart;
    default:
      return EXIT.internal;
  }
}

/** Several jobs: 0 when all succeeded, else the status of the first (in the order asked) that did not. */
export function exitStatusOfAll(views: readonly JobView[]): number {
  for (const view of views) {
    const status = exitStatusOf(view);
    if (status !== EXIT.ok) return status;
  }
  return EXIT.ok;
}
