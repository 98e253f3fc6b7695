import { EXIT } from '../core/control/jobView';
import { mcpCommand } from '../mcp/mcpCommand';
import type { CliCommand, CliIo } from './cliIo';

/**
 * A stand-in for `lifeline`'s entry (the lead's src/cli/main.ts replaces it; keep only the `mcp`
 * line of the command table): enough to run `node dist/lifeline.js mcp` in the MCP tests.
 */
export const commands: Readonly<Record<string, CliCommand>> = {
  mcp: mcpCommand,
};

/** Runs one command line; resolves with the exit status. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  const command = name !== undefined && Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) {
    io.stderr.write(`lifeline: unknown command "${name ?? ''}".\n`);
    return EXIT.usage;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    io.stderr.write(`lifeline: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT.internal;
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
  void main(process.argv.slice(2), io).then((code) => process.stdout.write('', () => process.exit(code)));
}
