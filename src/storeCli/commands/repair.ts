import { promises as fs } from 'node:fs';
import { basename, join } from 'node:path';
import { assess } from '../assess';
import type { CliContext } from '../cliContext';
import { EXIT } from '../cliErrors';
import type { Problem } from '../findings';
import { problemOf, worst } from '../findings';
import { BACKUPS_FOLDER } from '../storeSet';
import type { StoreFinding } from '../storeSet';
import { withLease, withOwnStores } from '../writeAccess';
import type { Command } from './command';
import { print } from './command';

/** Where a quarantined file went, when the finding names one. */
function quarantinedTo(finding: StoreFinding): string | undefined {
  if (finding.kind === 'lostShard') return finding.shard.quarantinedTo;
  const event = finding.event;
  return 'quarantinedTo' in event ? event.quarantinedTo : 'quarantinePath' in event ? event.quarantinePath : undefined;
}

export const repairCommand: Command = {
  summary: 'rebuild damaged stores from their last good copy, setting the damage aside',
  usage: 'lifeline-store repair (--workspace PATH | --dir DIR) [--json]',
  help: [
    "Only when asked. Takes the folder's lease (refused while a window holds it), checks the folder",
    'as verify does, and if anything is damaged opens every store through its normal open:',
    'damaged files go to quarantine/, each store is rebuilt from what verifies (the previous',
    'generation, then the newest good backup), and a fresh snapshot is written. Damaged backup files',
    'are moved to quarantine/ too. The report says exactly what was lost.',
    '',
    'Exit status: 0 repaired with nothing lost (or nothing to repair), 3 repaired with a loss,',
    '4 encrypted and no key, 5 a window holds the folder.',
  ].join('\n'),
  flags: {},
  positional: [],
  run(_args, context: CliContext) {
    // The lease first: the check and the repair then see the same files, with no window writing.
    return withLease(context, () => repair(context));
  },
};

async function repair(context: CliContext): Promise<number> {
  const before = await assess(context);
  if (before.verdict === 'healthy') {
    print(context, { repaired: false, problems: [] }, 'Nothing to repair: every store verifies.\n');
    return EXIT.ok;
  }
  const result = await withOwnStores(context, {}, async (stores) => {
    const problems = stores.findings.map(problemOf).filter((problem): problem is Problem => problem !== undefined);
    const setAside = stores.findings.map(quarantinedTo).filter((path): path is string => path !== undefined);
    // Damaged backups: out of the folder the backups are chosen from, kept for a person to look at.
    const quarantine = join(context.directory, 'quarantine');
    for (const damaged of before.backups.filter((backup) => backup.status === 'damaged')) {
      await fs.mkdir(quarantine, { recursive: true, mode: 0o700 });
      const to = join(quarantine, `${basename(damaged.id)}.${Date.now()}`);
      await fs.rename(join(context.directory, BACKUPS_FOLDER, damaged.id), to);
      problems.push({
        where: `backup ${damaged.id}`,
        severity: 'repairable',
        detail: `does not verify (${damaged.problem ?? 'unknown'}): moved aside`,
      });
      setAside.push(to);
    }
    // Journals of runs the queue waits on are settled by the window's next open (the run is shown interrupted, with why).
    problems.push(...before.problems.filter((problem) => problem.where.startsWith('job journal')));
    return { problems, setAside };
  });
  const lost = worst(result.problems) === 'lost';
  const lines = [
    ...result.problems.map((problem) => `${problem.severity === 'lost' ? 'LOST    ' : 'repaired'}  ${problem.where}: ${problem.detail}`),
    ...result.setAside.map((path) => `set aside: ${path}`),
    '',
    lost ? 'Repaired with a loss: the records named LOST above did not come back.' : 'Repaired: nothing acknowledged was lost.',
  ];
  print(context, { repaired: true, lost, problems: result.problems, setAside: result.setAside }, `${lines.join('\n')}\n`);
  return lost ? EXIT.dataLost : EXIT.ok;
}
