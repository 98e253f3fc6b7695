import { createWriteStream } from 'node:fs';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { exportHistory } from '../../core/history/historyExport';
import { choiceFlag, flagValue } from '../args';
import { withReadOnlyStores } from '../cliContext';
import { CliError, EXIT } from '../cliErrors';
import type { Command } from './command';

/** A new file to stream into (never over an existing one). */
async function openNew(path: string): Promise<Writable> {
  const stream = createWriteStream(path, { flags: 'wx', mode: 0o600 });
  await new Promise<void>((done, fail) => {
    stream.once('open', () => done());
    stream.once('error', (error: NodeJS.ErrnoException) =>
      fail(error.code === 'EEXIST' ? new CliError('usage', `${path} exists already; give a new file name.`) : error),
    );
  });
  return stream;
}

export const exportHistoryCommand: Command = {
  summary: 'write the job history as CSV or JSON, read-only',
  usage: 'lifeline-store export-history (--workspace PATH | --dir DIR) [--format csv|json] [--scope both|active|archive] [--out FILE]',
  help: [
    'The same export as the History panel: every entry, oldest first, the archive before the recent',
    'history. Read from a copy: nothing in the folder changes. Entries of a damaged archive shard',
    'are missing from the export, and said so on stderr.',
    '  --format csv|json          @default csv',
    '  --scope both|active|archive  @default both',
    '  --out FILE                 write to FILE instead of stdout (refused if it exists)',
  ].join('\n'),
  flags: { '--format': true, '--scope': true, '--out': true },
  positional: [],
  async run(args, context) {
    const format = choiceFlag(args, '--format', ['csv', 'json'] as const, 'csv');
    const scope = choiceFlag(args, '--scope', ['both', 'active', 'archive'] as const, 'both');
    const outPath = flagValue(args, '--out');
    const result = await withReadOnlyStores(context, async (stores) => {
      if (!stores.history) return { count: 0, lost: [] };
      const out = outPath === undefined ? process.stdout : await openNew(resolve(outPath));
      try {
        return await exportHistory(stores.history, out, { format, scope });
      } finally {
        if (out !== process.stdout) await new Promise<void>((done) => out.end(done));
      }
    });
    for (const shard of result.lost) {
      process.stderr.write(
        `lifeline-store: shard ${shard.file} is damaged: ${shard.count} entries of ${shard.month} are missing from the export\n`,
      );
    }
    if (outPath !== undefined) process.stderr.write(`Wrote ${result.count} entries to ${resolve(outPath)}\n`);
    return result.lost.length > 0 ? EXIT.dataLost : EXIT.ok;
  },
};
