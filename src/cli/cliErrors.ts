import { LifelineError } from '../core/errors';
import { EXIT } from '../core/control/jobView';

export type CommandLineErrorReason = 'usage' | 'unknownJob' | 'unavailable' | 'failed';

const exitOf: Record<CommandLineErrorReason, number> = {
  usage: EXIT.usage,
  unknownJob: EXIT.unknownJob,
  unavailable: EXIT.unavailable,
  failed: EXIT.internal,
};

/** What `lifeline` reports as one line on stderr and an exit status (docs/cli.md); never a stack trace. */
export class CommandLineError extends LifelineError<CommandLineErrorReason> {
  constructor(reason: CommandLineErrorReason, message: string, options?: { cause?: unknown }) {
    super('CommandLineError', reason, message, options);
  }

  get exitCode(): number {
    return exitOf[this.reason];
  }
}
