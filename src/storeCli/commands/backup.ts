import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BackupManager } from '../../core/storage/backupManager';
import type { BackupInfo } from '../../core/storage/backupManager';
import { flagValue } from '../args';
import type { CliContext } from '../cliContext';
import { withReadOnlyStores } from '../cliContext';
import { CliError, EXIT } from '../cliErrors';
import { CliLease } from '../cliLease';
import type { Problem } from '../findings';
import { problemOf } from '../findings';
import { BACKUPS_FOLDER } from '../storeSet';
import type { StoreSet } from '../storeSet';
import type { Command } from './command';
import { print } from './command';

/** Writes a manual backup of `stores` into `directory`. */
function writeBackup(stores: StoreSet, directory: string, archive: boolean, cipher: CliContext['cipher']): Promise<BackupInfo> {
  const manager = new BackupManager({ directory, source: stores.backupSource(archive), appVersion: 'lifeline-store', cipher });
  return manager.create('manual');
}

export const backupCommand: Command = {
  summary: "write a backup into the folder's backups/ (or to a file)",
  usage: 'lifeline-store backup (--workspace PATH | --dir DIR) [--out FILE] [--archive] [--json]',
  help: [
    'Writes one checksummed backup file holding the queue, the recent history and the state store,',
    'read from a copy of their files (a damaged store is backed up as far as it verifies, and said so;',
    'nothing is repaired). Into backups/ it takes the lease first (refused while a window holds it).',
    '  --out FILE   write the backup to FILE instead (no lease needed; refused if FILE exists)',
    '  --archive    include the sealed history archive (can be large)',
  ].join('\n'),
  flags: { '--out': true, '--archive': false },
  positional: [],
  async run(args, context) {
    const out = flagValue(args, '--out');
    const archive = args.flags.has('--archive');
    if (
      out !== undefined &&
      (await fs.stat(resolve(out)).then(
        () => true,
        () => false,
      ))
    ) {
      throw new CliError('usage', `${resolve(out)} exists already; give a new file name.`);
    }
    const lease = out === undefined ? await CliLease.acquire(context.directory) : undefined;
    let info: BackupInfo;
    let problems: Problem[];
    try {
      ({ info, problems } = await withReadOnlyStores(context, async (stores) => {
        const problems = stores.findings.map(problemOf).filter((problem): problem is Problem => problem !== undefined);
        if (out === undefined) {
          return { info: await writeBackup(stores, join(context.directory, BACKUPS_FOLDER), archive, context.cipher), problems };
        }
        const scratch = await fs.mkdtemp(join(tmpdir(), 'lifeline-backup-'));
        try {
          const written = await writeBackup(stores, scratch, archive, context.cipher);
          await fs.copyFile(written.path, resolve(out), fs.constants.COPYFILE_EXCL);
          return { info: { ...written, path: resolve(out) }, problems };
        } finally {
          await fs.rm(scratch, { recursive: true, force: true });
        }
      }));
    } finally {
      await lease?.release();
    }
    const parts = info.parts.map((part) => `${part.name} (${part.summary}, ${part.size} bytes)`).join(', ');
    const warning =
      problems.length > 0
        ? `\nThe stores have damage (run verify): the backup holds what verifies.\n${problems.map((p) => `  ${p.where}: ${p.detail}`).join('\n')}\n`
        : '';
    print(
      context,
      { id: info.id, path: info.path, fileSize: info.fileSize, parts: info.parts, problems },
      `Wrote ${info.path} (${info.fileSize} bytes): ${parts}\n${warning}`,
    );
    return EXIT.ok;
  },
};
