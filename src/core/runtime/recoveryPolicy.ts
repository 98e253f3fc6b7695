import type { Job } from '../queue/jobModel';
import { MAX_AUTO_RESUMED_INTERRUPTIONS } from '../queue/jobModel';

/** `auto` resumes interrupted jobs, `prompt` asks once per interruption, `off` leaves them alone. */
export type RecoveryPolicy = 'prompt' | 'auto' | 'off';

/** Why the jobs of a decision are to be asked about. */
export type RecoveryQuestion = 'interrupted' | 'interruptedTwice';

export interface RecoveryDecision {
  /** Interrupted jobs not handled before: add their {@link interruptionKey} to the handled set. */
  readonly fresh: readonly Job[];
  /** To resume without asking. */
  readonly resume: readonly Job[];
  /** To ask the user about (nothing happens to them when no one is there to ask). */
  readonly ask: readonly Job[];
  readonly question: RecoveryQuestion;
}

/** Each interruption of a job is handled once: a job interrupted again is fresh again. */
export function interruptionKey(job: Job): string {
  return `${job.id}:${job.interruptions}`;
}

/**
 * What the recovery policy does with the interrupted jobs not handled yet. A job interrupted
 * twice in a row ({@link MAX_AUTO_RESUMED_INTERRUPTIONS}) is never resumed automatically: it may
 * be what kills its supervisor, so it is asked about instead.
 */
export function decideRecovery(jobs: readonly Job[], handled: ReadonlySet<string>, policy: RecoveryPolicy): RecoveryDecision {
  const fresh = jobs.filter((job) => job.state === 'interrupted' && !handled.has(interruptionKey(job)));
  if (fresh.length === 0 || policy === 'off') return { fresh, resume: [], ask: [], question: 'interrupted' };
  if (policy === 'prompt') return { fresh, resume: [], ask: fresh, question: 'interrupted' };
  return {
    fresh,
    resume: fresh.filter((job) => job.interruptions < MAX_AUTO_RESUMED_INTERRUPTIONS),
    ask: fresh.filter((job) => job.interruptions >= MAX_AUTO_RESUMED_INTERRUPTIONS),
    question: 'interruptedTwice',
  };
}
