import { promises as fs } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { BackupManager } from '../../core/storage/backupManager';
import type { DecodedBackup } from '../../core/storage/backupFile';
import { readBackupFile } from '../../core/storage/backupFileIo';
import { StorageError } from '../../core/storage/errors';
import type { CliContext } from '../cliContext';
import { CliError, EXIT } from '../cliErrors';
import { problemOf } from '../findings';
import type { Problem } from '../findings';
import { ARCHIVE_PREFIX, BACKUPS_FOLDER } from '../storeSet';
import { withLease, withOwnStores } from '../writeAccess';
import type { Command } from './command';
import { print } from './command';

/** The backup named on the command line: a file path, or the id of a backup in the folder's backups/. */
async function findBackup(context: CliContext, name: string): Promise<{ path: string; id: string | undefined }> {
  const asPath = resolve(name);
  const inFolder = join(context.directory, BACKUPS_FOLDER, basename(name));
  if (await isFile(asPath)) return { path: asPath, id: resolve(asPath) === inFolder ? basename(name) : undefined };
  if (basename(name) === name && (await isFile(inFolder))) return { path: inFolder, id: name };
  throw new CliError('notFound', `There is no backup ${name} (neither a file nor a backup in ${join(context.directory, BACKUPS_FOLDER)}).`);
}

async function isFile(path: string): Promise<boolean> {
  return fs.stat(path).then(
    (stat) => stat.isFile(),
    () => false,
  );
}

/** Reads and verifies the whole file before anything is touched: a garbage, truncated or foreign file changes nothing. */
async function readVerified(path: string, context: CliContext): Promise<DecodedBackup> {
  try {
    const backup = await readBackupFile(path, { cipher: context.cipher });
    if (backup.parts.length === 0) throw new CliError('badBackup', `${path} holds no store; restoring it would only empty the live state.`);
    return backup;
  } catch (error) {
    if (error instanceof CliError) throw error;
    if (StorageError.is(error, 'missingKey') || StorageError.is(error, 'wrongKey')) {
      throw new CliError(
        'locked',
        `${path} is encrypted: ${error.message} Give its recovery key with --recovery-key; nothing was touched.`,
      );
    }
    if (error instanceof StorageError) {
      throw new CliError('badBackup', `${path} is not a backup that can be restored: ${error.message} Nothing was touched.`);
    }
    throw error;
  }
}

export const restoreCommand: Command = {
  summary: 'replace the stores with a backup (a safety backup is written first)',
  usage: 'lifeline-store restore BACKUP (--workspace PATH | --dir DIR) [--json]',
  help: [
    "BACKUP is a backup file, or the name of one in the folder's backups/. The whole file is verified",
    "first (a garbage, truncated or foreign file changes nothing); then, holding the folder's lease",
    '(refused while a window holds it), a safety backup of the live state goes into backups/ and each',
    'store the backup holds is replaced. Running jobs keep running; the next window re-adopts them.',
  ].join('\n'),
  flags: {},
  positional: ['BACKUP'],
  async run(args, context) {
    const found = await findBackup(context, args.positional[0] as string);
    const backup = await readVerified(found.path, context);
    const holdsState = backup.parts.some((part) => part.name === 'state');
    const archive = backup.parts.some((part) => part.name.startsWith(ARCHIVE_PREFIX));
    const result = await withLease(context, () =>
      withOwnStores(context, { createState: holdsState }, async (stores) => {
        const problems = stores.findings.map(problemOf).filter((problem): problem is Problem => problem !== undefined);
        const manager = new BackupManager({
          directory: join(context.directory, BACKUPS_FOLDER),
          // The safety backup holds what the restore replaces: the archive too when the backup holds one.
          source: {
            snapshotParts: () => stores.backupSource(archive).snapshotParts(),
            installParts: (parts) => stores.installSource().installParts(parts),
          },
          appVersion: 'lifeline-store',
          cipher: context.cipher,
        });
        if (found.id !== undefined) {
          const { safetyBackup } = await manager.restore(found.id);
          return { safetyBackup: safetyBackup.path, problems };
        }
        // A file from elsewhere: the same steps as manager.restore (safety backup, then install every part).
        const safetyBackup = await manager.create('beforeRestore');
        await stores.installSource().installParts(backup.parts);
        return { safetyBackup: safetyBackup.path, problems };
      }),
    );
    const parts = backup.parts.map((part) => `${part.name} (${part.summary})`).join(', ');
    print(
      context,
      {
        restored: found.path,
        createdAt: backup.manifest.createdAt,
        parts: backup.parts.map(({ name, summary }) => ({ name, summary })),
        ...result,
      },
      `Restored ${found.path} of ${backup.manifest.createdAt}: ${parts}.\nThe state from before is in ${result.safetyBackup}.\n`,
    );
    return EXIT.ok;
  },
};
