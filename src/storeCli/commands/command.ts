import type { CommandSpec, ParsedArgs } from '../args';
import type { CliContext } from '../cliContext';

/** One subcommand of `lifeline-store`: its options, its help, and what it does (resolving to the exit status). */
export interface Command extends CommandSpec {
  readonly summary: string;
  readonly usage: string;
  /** Lines after the common options in `--help`. */
  readonly help: string;
  run(args: ParsedArgs, context: CliContext): Promise<number>;
}

/** Prints JSON or text, as `--json` asks. */
export function print(context: CliContext, json: unknown, text: string): void {
  context.out(context.json ? `${JSON.stringify(json, null, 2)}\n` : text);
}
