import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testCipher } from '../unit/storage/storageTestKit';
import type { CampaignOptions, CampaignResult } from './campaign';
import { campaignSeed, formatCauses, formatTable, runCampaign } from './campaign';
import { historySubject } from './historySubject';
import { jobJournalSubject } from './jobJournalSubject';
import { queueSubject, stateStoreSubject } from './storeSubjects';

/** Every subject with its share of `total` trials (the state store most: it is the most varied). */
export function damageSubjects(total: number): CampaignOptions['subjects'] {
  const shares = [
    { subject: stateStoreSubject(), weight: 7 },
    { subject: stateStoreSubject(testCipher()), weight: 2 },
    { subject: queueSubject, weight: 5 },
    { subject: historySubject, weight: 3 },
    { subject: jobJournalSubject, weight: 4 },
  ];
  const sum = shares.reduce((total, share) => total + share.weight, 0);
  return shares.map(({ subject, weight }) => ({ subject, trials: Math.ceil((total * weight) / sum) }));
}

/** Runs the campaign in a scratch folder (tmpfs when there is one) and removes it. */
export async function runDamageCampaign(total: number, seed = campaignSeed()): Promise<CampaignResult> {
  const directory = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'lifeline-damage-'));
  try {
    return await runCampaign({ seed, directory, subjects: damageSubjects(total) });
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/** The table and one failing trial of each kind (subject, mode, damage, what the open said), for a person to read. */
export function describeCampaign(result: CampaignResult, failuresShown = 40): string {
  const firstOfEach = new Map(
    result.failures.map((failure) => [`${failure.subject}/${failure.mode}/${failure.kind}/${failure.said}`, failure]),
  );
  const failures = [...firstOfEach.values()]
    .slice(0, failuresShown)
    .map(
      (failure) =>
        `  ${failure.outcome}: ${failure.subject}/${failure.mode} ${failure.file} ${failure.damage}: said ${failure.said}; ${failure.detail}`,
    );
  return [formatTable(result), formatCauses(result), 'one trial of each:', ...failures].join('\n');
}
