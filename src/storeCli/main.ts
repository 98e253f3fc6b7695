import { join } from 'node:path';
import { LifelineError } from '../core/errors';
import { StorageError } from '../core/storage/errors';
import type { ParsedArgs } from './args';
import { parseArgs } from './args';
import { createContext } from './cliContext';
import { CliError, EXIT } from './cliErrors';
import { backupCommand } from './commands/backup';
import type { Command } from './commands/command';
import { dumpCommand } from './commands/dump';
import { exportHistoryCommand } from './commands/exportHistory';
import { repairCommand } from './commands/repair';
import { restoreCommand } from './commands/restore';
import { verifyCommand } from './commands/verify';

/**
 * `lifeline-store`: Lifeline's storage folder, offline (docs/lifeline-store.md). Nothing of VS Code
 * in it: bundled beside the extension as dist/lifeline-store.js and run with plain `node`.
 */
const commands: Readonly<Record<string, Command>> = {
  verify: verifyCommand,
  dump: dumpCommand,
  repair: repairCommand,
  backup: backupCommand,
  restore: restoreCommand,
  'export-history': exportHistoryCommand,
};

const COMMON = [
  'Where (one of):',
  '  --workspace PATH       the folder or .code-workspace file opened in VS Code; its storage folder is',
  "                         found under the editors' global storage (VS Code, Insiders, VSCodium, a VS Code",
  '                         server, code-server)',
  "  --user-data-dir DIR    with --workspace: the editor's --user-data-dir, when it is not the default",
  '  --dir DIR              the storage folder itself (<globalStorage>/lifeline.lifeline/workspaces/<id>)',
  'Options:',
  '  --recovery-key KEY     the recovery key of encrypted stores (or LIFELINE_RECOVERY_KEY)',
  '  --json                 the report as JSON',
  "  --verbose              the stores' own log lines on stderr",
  '  --help, -h             this help',
].join('\n');

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  return [
    'Usage: lifeline-store <command> (--workspace PATH | --dir DIR) [options]',
    '',
    'Commands:',
    ...Object.entries(commands).map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`),
    '',
    COMMON,
    '',
    'Exit status: 0 ok/healthy, 1 bad input, 2 repairable, 3 data lost, 4 encrypted (key needed),',
    '5 a window holds the folder, 6 failed. `lifeline-store <command> --help` for each command.',
    '',
  ].join('\n');
}

function commandHelp(name: string, command: Command): string {
  return `Usage: ${command.usage}\n\n${name}: ${command.summary}.\n\n${command.help}\n\n${COMMON}\n`;
}

async function dispatch(args: ParsedArgs, env: NodeJS.ProcessEnv, wasmPath: string): Promise<number> {
  if (args.command === 'help') {
    const named = args.positional[0];
    const command = named === undefined ? undefined : commands[named];
    if (named !== undefined && !command) throw new CliError('usage', `Unknown command "${named}".`);
    process.stdout.write(command && named ? commandHelp(named, command) : usage());
    return EXIT.ok;
  }
  const command = commands[args.command] as Command;
  if (args.flags.has('--help')) {
    process.stdout.write(commandHelp(args.command, command));
    return EXIT.ok;
  }
  return command.run(args, await createContext(args, env, wasmPath));
}

/** Runs one command line; resolves with the exit status. Errors become one line on stderr. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (argv.length === 0) {
    process.stderr.write(usage());
    return EXIT.usage;
  }
  try {
    const args = parseArgs(argv, commands);
    return await dispatch(args, env, join(__dirname, 'sql-wasm.wasm'));
  } catch (error) {
    if (error instanceof CliError) {
      process.stderr.write(`lifeline-store: ${error.message}\n`);
      return error.exitCode;
    }
    if (StorageError.is(error, 'missingKey') || StorageError.is(error, 'wrongKey') || StorageError.is(error, 'decryptFailed')) {
      process.stderr.write(`lifeline-store: ${error.message} Give the recovery key with --recovery-key; nothing was touched.\n`);
      return EXIT.locked;
    }
    // The stores' own typed errors carry a message written for a person.
    const message =
      error instanceof LifelineError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`lifeline-store: ${message}\n`);
    return EXIT.failed;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
