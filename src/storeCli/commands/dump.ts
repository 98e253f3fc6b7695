import { exportEntries } from '../../core/history/historyExport';
import type { HistoryEntry } from '../../core/history/historyEntry';
import { flagValue } from '../args';
import type { CliContext } from '../cliContext';
import { withReadOnlyStores } from '../cliContext';
import { EXIT } from '../cliErrors';
import { problemOf } from '../findings';
import type { Problem } from '../findings';
import { writeOutput } from '../output';
import type { Command } from './command';

export const dumpCommand: Command = {
  summary: 'print the queue, the history and the state as JSON, read-only',
  usage: 'lifeline-store dump (--workspace PATH | --dir DIR) [--out FILE]',
  help: [
    'Writes one JSON document: the queue (jobs and flags), every history entry (archive and recent),',
    'the state store (namespace -> key -> value; null when absent), and what opening the stores found',
    '(`problems`: the dump holds what verifies). Read from a copy: nothing in the folder changes.',
    '  --out FILE   write to FILE instead of stdout (refused if it exists)',
  ].join('\n'),
  flags: { '--out': true },
  positional: [],
  async run(args, context: CliContext) {
    const document = await withReadOnlyStores(context, async (stores) => {
      const queue = stores.queue.durableStore?.state.toSnapshot();
      const history: (HistoryEntry & { archived: boolean })[] = [];
      if (stores.history) {
        for await (const page of exportEntries(stores.history, { scope: 'both' })) {
          for (const entry of page.entries) history.push({ ...entry, archived: page.archived });
        }
      }
      const data = stores.state?.durable?.state;
      const state =
        data === undefined
          ? null
          : Object.fromEntries(
              [...data].map(([namespace, keys]) => [
                namespace,
                Object.fromEntries([...keys].map(([key, json]) => [key, JSON.parse(json) as unknown])),
              ]),
            );
      const problems = stores.findings.map(problemOf).filter((problem): problem is Problem => problem !== undefined);
      return {
        directory: context.directory,
        workspaceKey: context.workspaceKey ?? null,
        queue: { flags: queue?.flags, jobs: queue?.jobs ?? [] },
        history,
        state,
        problems,
      };
    });
    await writeOutput(flagValue(args, '--out'), `${JSON.stringify(document, null, 2)}\n`);
    return EXIT.ok;
  },
};
