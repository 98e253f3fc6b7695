import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import type { Logger } from '../core/logger';
import { nullLogger } from '../core/logger';
import type { RecordCipher } from '../core/storage/cipher';
import type { ParsedArgs } from './args';
import { flagValue } from './args';
import { CliError } from './cliErrors';
import { locateDirectory, locateWorkspace } from './locate';
import { checkKeys, cipherFromRecoveryKey } from './storeKeys';
import { BACKUPS_FOLDER, HISTORY_FOLDER, QUEUE_FOLDER, STATE_FOLDER, StoreSet } from './storeSet';

/** What every subcommand works from: the storage folder, the key, how to print. */
export interface CliContext {
  readonly directory: string;
  readonly workspaceKey: string | undefined;
  readonly cipher: RecordCipher | undefined;
  readonly json: boolean;
  readonly logger: Logger;
  readonly wasmPath: string;
  readonly out: (text: string) => void;
}

/** A logger onto stderr, for `--verbose`: the stores' own log lines, as the extension's Output shows them. */
const stderrLogger: Logger = {
  trace: () => undefined,
  debug: () => undefined,
  info: (message) => process.stderr.write(`info  ${message}\n`),
  warn: (message) => process.stderr.write(`warn  ${message}\n`),
  error: (message) => process.stderr.write(`error ${message instanceof Error ? message.message : message}\n`),
};

/** Resolves the folder (`--dir` or `--workspace`) and the key, and checks the key against the stores before anything else. */
export async function createContext(args: ParsedArgs, env: NodeJS.ProcessEnv, wasmPath: string): Promise<CliContext> {
  const dir = flagValue(args, '--dir');
  const workspace = flagValue(args, '--workspace');
  if (dir !== undefined && workspace !== undefined) throw new CliError('usage', 'Give either --dir or --workspace, not both.');
  if (dir === undefined && workspace === undefined) {
    throw new CliError(
      'usage',
      'Which storage folder? Give --workspace PATH (the folder or .code-workspace file opened in VS Code) or --dir DIR.',
    );
  }
  if (dir !== undefined && args.flags.has('--user-data-dir')) {
    throw new CliError('usage', '--user-data-dir goes with --workspace, not --dir.');
  }
  const located =
    dir !== undefined ? await locateDirectory(dir) : await locateWorkspace(workspace as string, flagValue(args, '--user-data-dir'));
  const cipher = cipherFromRecoveryKey(flagValue(args, '--recovery-key') ?? env.LIFELINE_RECOVERY_KEY);
  await checkKeys(located.directory, cipher);
  return {
    directory: located.directory,
    workspaceKey: located.workspaceKey,
    cipher,
    json: args.flags.has('--json'),
    logger: args.flags.has('--verbose') ? stderrLogger : nullLogger,
    wasmPath,
    out: (text) => process.stdout.write(text),
  };
}

/**
 * Opens the stores on a copy of the folder's store files, so that what opening repairs happens
 * to the copy and the folder is only read; backups are read where they are. The copy is removed after.
 */
export async function withReadOnlyStores<T>(context: CliContext, work: (stores: StoreSet) => Promise<T>): Promise<T> {
  const copy = await fs.mkdtemp(join(tmpdir(), 'lifeline-store-'));
  try {
    for (const folder of [QUEUE_FOLDER, HISTORY_FOLDER, STATE_FOLDER]) {
      const from = join(context.directory, folder);
      if (
        !(await fs.stat(from).then(
          () => true,
          () => false,
        ))
      ) {
        continue;
      }
      // Quarantine holds what was set aside before: not part of any store.
      await fs.cp(from, join(copy, folder), {
        recursive: true,
        filter: (source) => !relative(from, source).split(sep).includes('quarantine'),
      });
    }
    const stores = await StoreSet.open({
      directory: copy,
      backupsDirectory: join(context.directory, BACKUPS_FOLDER),
      cipher: context.cipher,
      wasmPath: context.wasmPath,
      logger: context.logger,
    });
    try {
      return await work(stores);
    } finally {
      await stores.close();
    }
  } finally {
    await fs.rm(copy, { recursive: true, force: true });
  }
}
