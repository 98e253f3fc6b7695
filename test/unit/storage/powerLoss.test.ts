import * as assert from 'node:assert/strict';
import { campaignSeed, powerSummary, runPowerCampaign } from './powerLossCampaign';
import { seededRandom as seeded } from '../../kit/seededRandom';
import type { PowerResult, PowerSubject } from './powerLossCampaign';
import { historyPowerSubject, queuePowerSubject, statePowerSubject } from './powerLossSubjects';
import { makeTempDir } from './storageTestKit';

/** CI size: 240 cuts in all. `npm run torture` runs the large campaign. */
const cuts = { state: 100, queue: 100, history: 40 } as const;

describe('power loss (simulated power cuts over the real stores)', function () {
  this.timeout(120_000);
  const seed = campaignSeed();
  before(() => process.stdout.write(`      power-loss seed ${seed} (LIFELINE_SEED=${seed} replays it)\n`));

  for (const [index, subject] of (
    [statePowerSubject, queuePowerSubject, historyPowerSubject] as PowerSubject<unknown, unknown>[]
  ).entries()) {
    it(`the ${subject.name} store loses nothing acknowledged across ${cuts[subject.name as keyof typeof cuts]} power cuts`, async () => {
      const temp = makeTempDir(`lifeline-power-${subject.name}-`);
      let result: PowerResult;
      try {
        result = await runPowerCampaign(subject, {
          cuts: cuts[subject.name as keyof typeof cuts],
          directory: temp.dir,
          random: seeded(seed + index),
          log: (line) => process.stderr.write(`[power:${subject.name}] ${line}\n`),
        });
      } finally {
        temp.cleanup();
      }
      process.stdout.write(`      ${subject.name}: ${powerSummary(result)} (${result.reported} damage reports) seed ${seed}\n`);
      assert.deepEqual(result.problems, [], `seed ${seed}`);
      assert.equal(result.lost, 0);
      assert.ok(result.acknowledged > 0, 'the campaign acknowledged nothing: it tested nothing');
    });
  }
});
