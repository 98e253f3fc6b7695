import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeCampaign, runDamageCampaign } from '../damage/damageTorture';
import type { PowerResult, PowerSubject } from '../unit/storage/powerLossCampaign';
import { campaignSeed, powerSummary, runPowerCampaign } from '../unit/storage/powerLossCampaign';
import { seededRandom as seeded } from '../kit/seededRandom';
import { historyPowerSubject, queuePowerSubject, statePowerSubject } from '../unit/storage/powerLossSubjects';
import { queueSubject } from './queueSubject';
import { stateStoreSubject } from './stateStoreSubject';
import type { TortureResult } from './tortureHarness';
import { runTorture, summaryLine } from './tortureHarness';

const subjects = { state: stateStoreSubject, queue: queueSubject } as const;
type SubjectName = keyof typeof subjects;

/**
 * `npm run torture [-- --kills N] [-- --subject state|queue|all] [-- --keep]`: SIGKILLs a writer N
 * times per subject (default 200; the StateStore and the job queue) and checks every acknowledged
 * commit after each kill. Last line: `torture: K kills, A acknowledged, L lost, U unreadable`,
 * summed over the subjects; exits non-zero unless L and U are 0.
 * Then `--power-cuts N` (default 1000) simulated power cuts across the state store, the queue and
 * the history (PowerLossFs): last line `power-loss: N cuts, A acknowledged, L lost`; LIFELINE_SEED
 * replays a seed. `--power-only` skips the kills (and the damage fuzz).
 * Then the damage fuzz (docs/damage-fuzz.md): `--damage N` trials (default 20000, 0 for none;
 * LIFELINE_SEED replays), which must end with 0 silent and 0 crash.
 */
async function main(argv: readonly string[]): Promise<number> {
  const killsIndex = argv.indexOf('--kills');
  const kills = killsIndex >= 0 ? Number(argv[killsIndex + 1]) : 200;
  const subjectIndex = argv.indexOf('--subject');
  const subjectArg = subjectIndex >= 0 ? argv[subjectIndex + 1] : 'all';
  const names: SubjectName[] =
    subjectArg === 'all' ? ['state', 'queue'] : subjectArg === 'state' || subjectArg === 'queue' ? [subjectArg] : [];
  const damageIndex = argv.indexOf('--damage');
  const damageTrials = damageIndex >= 0 ? Number(argv[damageIndex + 1]) : 20_000;
  if (!Number.isInteger(kills) || kills < 1 || names.length === 0 || !Number.isInteger(damageTrials) || damageTrials < 0) {
    process.stderr.write('usage: torture [--kills N] [--subject state|queue|all] [--damage N] [--keep]\n');
    return 2;
  }
  let total: TortureResult = { kills: 0, acknowledged: 0, lost: 0, unreadable: 0, problems: [] };
  for (const name of argv.includes('--power-only') ? [] : names) {
    // On the real disk (the OS temp folder here), not a tmpfs: the store's own fsync path runs.
    const directory = mkdtempSync(join(tmpdir(), `lifeline-torture-${name}-`));
    try {
      const options = { kills, directory, log: (line: string) => process.stderr.write(`[torture:${name}] ${line}\n`) };
      const result = name === 'state' ? await runTorture(subjects.state, options) : await runTorture(subjects.queue, options);
      for (const problem of result.problems.slice(0, 20)) process.stdout.write(`problem (${name}): ${problem}\n`);
      process.stdout.write(`${name}: ${summaryLine(result)}\n`);
      total = {
        kills: total.kills + result.kills,
        acknowledged: total.acknowledged + result.acknowledged,
        lost: total.lost + result.lost,
        unreadable: total.unreadable + result.unreadable,
        problems: [...total.problems, ...result.problems],
      };
    } finally {
      if (argv.includes('--keep')) process.stderr.write(`[torture:${name}] kept ${directory}\n`);
      else rmSync(directory, { recursive: true, force: true });
    }
  }
  if (!argv.includes('--power-only')) process.stdout.write(`${summaryLine(total)}\n`);
  const powerIndex = argv.indexOf('--power-cuts');
  const power = await powerCampaign(powerIndex >= 0 ? Number(argv[powerIndex + 1]) : 1000, argv.includes('--keep'));
  const tortureOk = total.lost === 0 && total.unreadable === 0 && total.problems.length === 0;
  let damageClean = true;
  if (damageTrials > 0 && !argv.includes('--power-only')) {
    const damage = await runDamageCampaign(damageTrials);
    process.stdout.write(`${describeCampaign(damage)}\n`);
    damageClean = damage.totals.silent === 0 && damage.totals.crash === 0;
  }
  return tortureOk && power.lost === 0 && power.problems.length === 0 && damageClean ? 0 : 1;
}

/** The power-cut campaign: `cuts` in all, 40 % each to the state store and the queue, 20 % to the history. */
async function powerCampaign(cuts: number, keep: boolean): Promise<PowerResult> {
  const seed = campaignSeed();
  process.stdout.write(`power-loss seed ${seed} (LIFELINE_SEED=${seed} replays it)\n`);
  const plan: [PowerSubject<unknown, unknown>, number][] = [
    [statePowerSubject as PowerSubject<unknown, unknown>, Math.round(cuts * 0.4)],
    [queuePowerSubject as PowerSubject<unknown, unknown>, Math.round(cuts * 0.4)],
    [historyPowerSubject as PowerSubject<unknown, unknown>, cuts - 2 * Math.round(cuts * 0.4)],
  ];
  let total: PowerResult = { cuts: 0, acknowledged: 0, lost: 0, reported: 0, problems: [] };
  for (const [index, [subject, count]] of plan.entries()) {
    if (count <= 0) continue;
    const directory = mkdtempSync(join(tmpdir(), `lifeline-power-${subject.name}-`));
    try {
      const log = (line: string): void => void process.stderr.write(`[power:${subject.name}] ${line}\n`);
      const result = await runPowerCampaign(subject, { cuts: count, directory, random: seeded(seed + index), log });
      for (const problem of result.problems.slice(0, 20)) process.stdout.write(`problem (${subject.name}): ${problem}\n`);
      process.stdout.write(`${subject.name}: ${powerSummary(result)} (${result.reported} damage reports)\n`);
      total = {
        cuts: total.cuts + result.cuts,
        acknowledged: total.acknowledged + result.acknowledged,
        lost: total.lost + result.lost,
        reported: total.reported + result.reported,
        problems: [...total.problems, ...result.problems],
      };
    } finally {
      if (keep) process.stderr.write(`[power:${subject.name}] kept ${directory}\n`);
      else rmSync(directory, { recursive: true, force: true });
    }
  }
  process.stdout.write(`${powerSummary(total)}\n`);
  return total;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`torture failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
