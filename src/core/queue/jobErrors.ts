import { LifelineError } from '../errors';

/**
 * Typed errors of the job queue. Callers branch on `reason`, never on message text
 * (docs/errors.md); the message names the problem for the person who reads it.
 */
export type JobErrorReason =
  /** A command or job definition failed validation; `message` names the field and the problem. */
  | 'invalidCommand'
  /** A job definition that could never run: empty command, missing cwd, duplicate stage names. */
  | 'invalidJob'
  | 'jobNotFound'
  | 'duplicateJob'
  /** The command does not apply to the job's state (for example retrying a running job). */
  | 'invalidState'
  /** The queue or session was disposed; pending commands are rejected with this. */
  | 'disposed'
  /** The queue's durable log failed; the change was not saved (the next one is tried as usual). */
  | 'storageFailed'
  /** The disk is full: the change was not saved; commands work again once space is freed. */
  | 'diskFull'
  /** The holder of the lease refused the client (bad token) or could not be reached. */
  | 'notConnected'
  | 'leaseLost'
  | 'socketPathTooLong'
  /** The holder refused a command because this client already has too many waiting; send it again later. */
  | 'overloaded'
  /** A process at a supervisor's socket failed the handshake: it does not know the jobs folder's secret. */
  | 'untrustedSupervisor';

export class JobError extends LifelineError<JobErrorReason> {
  constructor(reason: JobErrorReason, message: string, options?: { cause?: unknown }) {
    super('JobError', reason, message, options);
  }
}
