import { z } from 'zod';
import { formatDuration } from '../../shared/jobDisplay';
import { retriesDefinitionSchema } from '../../shared/workspaceConfig';
import type { RetriesDefinition } from '../../shared/workspaceConfig';
import type { Job } from './jobModel';
import type { RunEvent } from './jobRunner';

/**
 * Everything about retrying a job that fails: the policy a job stores (mapped from the seconds of
 * `.vscode/lifeline.json`, with its defaults), the backoff between attempts, and what a run's end
 * makes of the job. The scheduler applies the decision; it decides nothing about retries itself.
 */

const definitionFields = retriesDefinitionSchema.shape;

/**
 * A stored policy's fields, without defaults. Those the user writes keep the user format's checks
 * (a delay is non-negative in seconds as in milliseconds); the rest only an enqueue command sets.
 */
const policyFields = {
  /** Attempts in all, the first included. */
  maxAttempts: definitionFields.maxAttempts,
  backoff: definitionFields.backoff.unwrap(),
  delayMs: definitionFields.delaySeconds.unwrap(),
  /** Exponential backoff never waits longer than this. */
  maxDelayMs: z.number().nonnegative(),
  /** Fraction of the delay added or removed at random, so retries of many jobs do not align. */
  jitter: z.number().min(0).max(1),
  doNotRetryExitCodes: definitionFields.doNotRetryExitCodes.unwrap(),
};

/** A job's retry policy as the queue stores it; every field has its default here, and only here. */
export const retryPolicySchema = z.object({
  maxAttempts: policyFields.maxAttempts.default(1),
  backoff: policyFields.backoff.default('exponential'),
  delayMs: policyFields.delayMs.default(1000),
  maxDelayMs: policyFields.maxDelayMs.default(3_600_000),
  jitter: policyFields.jitter.default(0.2),
  doNotRetryExitCodes: policyFields.doNotRetryExitCodes.default([]),
});
export type RetryPolicy = z.infer<typeof retryPolicySchema>;

/** Overrides of a definition's retry settings at enqueue; no defaults, so only what is given applies. */
export const retryOverrideSchema = z.object(policyFields).partial().strict();
export type RetryOverride = z.infer<typeof retryOverrideSchema>;

/** The policy of a job that says nothing about retries: one attempt. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = retryPolicySchema.parse({});

/**
 * The policy a job stores: its definition's `retries` (seconds become milliseconds), then what the
 * enqueue command overrides, then the defaults for whatever neither gives.
 */
export function retryPolicyOf(retries: RetriesDefinition | undefined, override?: RetryOverride): RetryPolicy {
  return retryPolicySchema.parse({
    ...(retries
      ? {
          maxAttempts: retries.maxAttempts,
          backoff: retries.backoff,
          delayMs: retries.delaySeconds === undefined ? undefined : retries.delaySeconds * 1000,
          doNotRetryExitCodes: retries.doNotRetryExitCodes,
        }
      : {}),
    ...override,
  });
}

/**
 * The wait before retry number `attempt` (1 = after the first failure). Exponential doubles from
 * `delayMs` up to `maxDelayMs`; jitter spreads it by ±`jitter` so that jobs that failed together do
 * not all come back at once (BullMQ, AWS backoff guidance). `random` returns a number in [0, 1].
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number): number {
  const base = policy.backoff === 'fixed' ? policy.delayMs : Math.min(policy.maxDelayMs, policy.delayMs * 2 ** Math.max(0, attempt - 1));
  const spread = base * policy.jitter * (2 * random() - 1);
  return Math.max(0, Math.round(base + spread));
}

/** What a decision needs of a run's end (the runner's `exited` event). */
export type RunExit = Pick<Extract<RunEvent, { type: 'exited' }>, 'exitCode' | 'signal' | 'error' | 'unrecoverable'>;

/** Why a failed job is not tried again. */
export type NoRetryReason =
  /** Its attempts are used up (a job without retries has one). */
  | 'attemptsUsed'
  /** It exited with a code its policy lists in `doNotRetryExitCodes`. */
  | 'exitCodeNotRetried'
  /** Its runner reported a failure no retry can fix (`unrecoverable` on the exit). */
  | 'unrecoverable';

/** What the end of a job's run makes of it. */
export type ExitDecision =
  | { readonly kind: 'cancelled' }
  | { readonly kind: 'succeeded' }
  /** Delayed until `at`, when attempt number `attempt` starts; `error` says why this one failed. */
  | { readonly kind: 'retry'; readonly at: number; readonly attempt: number; readonly error: string }
  | { readonly kind: 'failed'; readonly error: string; readonly timedOut: boolean; readonly because: NoRetryReason };

/**
 * Decides what a run's end makes of the job: a stop the user asked for ends cancelled, a clean exit
 * of a job nobody stopped succeeds, and anything else fails, to be retried after its backoff while
 * the policy allows. A timeout is a failure like any other: retried while attempts remain.
 *
 * @param now the scheduler's clock: a retry waits from when the end is handled, not from `exit.at`.
 */
export function decideAfterExit(
  job: Pick<Job, 'attempts' | 'retry' | 'stopReason' | 'timeoutMs' | 'stages' | 'currentStage'>,
  exit: RunExit,
  now: number,
  random: () => number,
): ExitDecision {
  if (job.stopReason === 'cancel') return { kind: 'cancelled' };
  if (exit.exitCode === 0 && exit.error === undefined && job.stopReason === undefined) return { kind: 'succeeded' };
  const error = failureText(job, exit);
  const timedOut = job.stopReason === 'jobTimeout' || job.stopReason === 'stageTimeout';
  const because = noRetryReason(job, exit);
  if (because) return { kind: 'failed', error, timedOut, because };
  return { kind: 'retry', at: now + backoffDelay(job.retry, job.attempts, random), attempt: job.attempts + 1, error };
}

function noRetryReason(job: Pick<Job, 'attempts' | 'retry'>, exit: RunExit): NoRetryReason | undefined {
  if (exit.unrecoverable) return 'unrecoverable';
  if (exit.exitCode !== null && job.retry.doNotRetryExitCodes.includes(exit.exitCode)) return 'exitCodeNotRetried';
  if (job.attempts >= job.retry.maxAttempts) return 'attemptsUsed';
  return undefined;
}

/** The failure as the person reading the queue is told it. */
function failureText(job: Pick<Job, 'stopReason' | 'timeoutMs' | 'stages' | 'currentStage'>, exit: RunExit): string {
  if (job.stopReason === 'jobTimeout') return `timed out after ${formatDuration(job.timeoutMs ?? 0)}`;
  if (job.stopReason === 'stageTimeout') {
    const stage = job.currentStage === undefined ? undefined : job.stages[job.currentStage];
    return `stage "${stage?.name}" timed out after ${formatDuration(stage?.timeoutMs ?? 0)}`;
  }
  return exit.error ?? (exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.exitCode}`);
}
