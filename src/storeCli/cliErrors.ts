import { LifelineError } from '../core/errors';

/**
 * The exit statuses of `lifeline-store` (docs/lifeline-store.md). `verify` uses 0, 2 and 3 for
 * what it found; every command uses the others for why it could not do what was asked.
 */
export const EXIT = {
  /** Healthy, or the command did what was asked with nothing lost. */
  ok: 0,
  /** A bad input: unknown command or option, a folder that is missing or not Lifeline's, a garbage backup file. */
  usage: 1,
  /** Damage that opening the stores repairs from a good copy with nothing lost (`repair` fixes it). */
  repairable: 2,
  /** Damage that loses acknowledged data (verify), or a repair that lost some (the report says what). */
  dataLost: 3,
  /** A store is encrypted and no key, or the wrong key, was given: nothing was touched. */
  locked: 4,
  /** A live window (or another tool) holds the folder's lease: nothing was written. */
  busy: 5,
  /** Anything else that failed (a read or write error): the message says what. */
  failed: 6,
} as const;

export type CliErrorReason = 'usage' | 'notFound' | 'notLifeline' | 'badBackup' | 'locked' | 'busy' | 'failed';

const exitOf: Record<CliErrorReason, number> = {
  usage: EXIT.usage,
  notFound: EXIT.usage,
  notLifeline: EXIT.usage,
  badBackup: EXIT.usage,
  locked: EXIT.locked,
  busy: EXIT.busy,
  failed: EXIT.failed,
};

/** An error the command line reports as one message and an exit status; never a stack trace. */
export class CliError extends LifelineError<CliErrorReason> {
  constructor(reason: CliErrorReason, message: string, options?: { cause?: unknown }) {
    super('CliError', reason, message, options);
  }

  get exitCode(): number {
    return exitOf[this.reason];
  }
}
