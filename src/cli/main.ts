import { ControlError } from '../core/control/controlErrors';
import type { ControlErrorReason } from '../core/control/controlErrors';
import { EXIT } from '../core/control/jobView';
import { LifelineError } from '../core/errors';
import { JobError } from '../core/queue/jobErrors';
import type { CliCommand, CliIo } from './cliIo';
import { CommandLineError } from './cliErrors';
import { addCommand, cancelCommand, resumeCommand, retryCommand } from './commands/jobCommands';
import { definitionsCommand, pauseQueueCommand, statusCommand, unpauseQueueCommand } from './commands/queueCommands';
import { followCommand, logCommand, waitCommand } from './commands/watchCommands';
import { mcpCommand } from '../mcp/mcpCommand';

/**
 * `lifeline`: the workspace's queue from a terminal (docs/cli.md). A client of the VS Code window
 * that holds the queue, or, while none does, its holder for as long as the command runs. Bundled
 * as dist/lifeline.js; the extension puts it on PATH in its integrated terminals.
 */
export const commands: Readonly<Record<string, CliCommand>> = {
  add: addCommand,
  status: statusCommand,
  wait: waitCommand,
  follow: followCommand,
  log: logCommand,
  cancel: cancelCommand,
  retry: retryCommand,
  resume: resumeCommand,
  pause: pauseQueueCommand,
  unpause: unpauseQueueCommand,
  definitions: definitionsCommand,
  mcp: mcpCommand,
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  return [
    'Usage: lifeline <command> [options]',
    '',
    'Commands:',
    ...Object.entries(commands).map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`),
    '',
    '`lifeline <command> --help` for its options. Exit status: 0 ok; 2 bad input; 4 no such job;',
    "69 the queue cannot be opened here (not trusted, encrypted, unknown folder); wait, follow and add --wait end with the job's.",
    '',
  ].join('\n');
}

const controlExit: Record<ControlErrorReason, number> = {
  invalidRequest: EXIT.usage,
  unknownDefinition: EXIT.usage,
  unknownJob: EXIT.unknownJob,
  untrusted: EXIT.unavailable,
  needsApproval: EXIT.unavailable,
};

/** The exit status and one line for an error; anything unexpected says so with its stack on stderr. */
function report(error: unknown, io: CliIo): number {
  if (io.signal.aborted) return EXIT.cancelled;
  const say = (message: string): void => void io.stderr.write(`lifeline: ${message}\n`);
  if (error instanceof CommandLineError) {
    say(error.message);
    return error.exitCode;
  }
  if (error instanceof ControlError) {
    say(error.message);
    return controlExit[error.reason];
  }
  if (JobError.is(error)) {
    say(error.message);
    if (error.reason === 'jobNotFound') return EXIT.unknownJob;
    return error.reason === 'invalidCommand' || error.reason === 'invalidJob' || error.reason === 'invalidState'
      ? EXIT.usage
      : EXIT.internal;
  }
  if (error instanceof LifelineError) {
    say(error.message);
    return EXIT.internal;
  }
  say(error instanceof Error ? (error.stack ?? error.message) : String(error));
  return EXIT.internal;
}

/** Runs one command line; resolves with the exit status. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const out = name === undefined ? io.stderr : io.stdout;
    const named = rest[0];
    if (name === 'help' && named !== undefined && commands[named]) return (commands[named] as CliCommand).run(['--help'], io);
    out.write(usage());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) {
    io.stderr.write(`lifeline: unknown command "${name}".\n${usage()}`);
    return EXIT.usage;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    return report(error, io);
  }
}

if (require.main === module) {
  const aborter = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => aborter.abort(new Error(signal)));
  const io: CliIo = {
    env: process.env,
    cwd: process.cwd(),
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    distDirectory: __dirname,
    signal: aborter.signal,
  };
  // Exit once stdout is drained: the runtime is closed, and a stray handle must not keep a terminal waiting.
  void main(process.argv.slice(2), io).then((code) => process.stdout.write('', () => process.exit(code)));
}
