import { join } from 'node:path';
import type { LostShard } from '../../src/core/history/archive';
import type { DurableHistoryLog } from '../../src/core/history/durableHistoryLog';
import type { HistoryEntryInput } from '../../src/core/history/historyEntry';
import { JobHistory } from '../../src/core/history/jobHistory';
import type { StorageEvent } from '../../src/core/storage/storeEvents';
import { readImage } from './image';
import type { DamageSubject, Fixture, Mode, TrialResult } from './verdict';
import { summarize } from './verdict';

/** From out/test/damage: the installed package's wasm. */
const wasmPath = join(__dirname, '..', '..', '..', 'node_modules', 'sql.js', 'dist', 'sql-wasm.wasm');
const epoch = Date.UTC(2026, 0, 1);
const day = 86_400_000;
/** Small, so the archive has an index and several sealed shards (one or more per month). */
const layout = { maxActiveEntries: 8, archiveMargin: 1000, archiveBatchSize: 6, retentionDays: 0, compactIntervalMs: 1e12 };

function entry(index: number, variant: number): HistoryEntryInput {
  const finishedAt = epoch + index * 5 * day + variant * 3_600_000;
  return {
    jobId: `job-${variant}-${String(index).padStart(4, '0')}`,
    name: `build ${index % 3}`,
    command: `npm run task${index % 5}`,
    cwd: '/work/project',
    state: index % 10 === 0 ? 'failed' : 'succeeded',
    attempts: 1,
    createdAt: finishedAt - 120_000,
    startedAt: finishedAt - 100_000,
    finishedAt,
    durationMs: 100_000,
    exitCode: index % 10 === 0 ? 1 : 0,
    error: index % 10 === 0 ? 'exit code 1' : undefined,
    warnings: [],
    outputTail: `line ${index}\ndone`,
    files: [],
    checkpoints: { count: 0 },
    tags: ['ci'],
  };
}

interface Acknowledged {
  readonly finishedAt: number;
  /** In a sealed shard when the image was taken (else in the active history). */
  archived: boolean;
  /** The active history's sequence number after the append: a dataLost from F covers it when F <= this. */
  readonly sequence: number;
}

/**
 * The job history: active sql.js image and its journal, archive/index.json and sealed shards. The
 * oracle is per entry: each acknowledged entry that does not come back must be covered by a loss
 * report about where it was: an active one by stateLost or a dataLost whose range holds its
 * append; an archived one by a lost shard whose range holds its finish time (or a quarantined
 * shard no index named). An entry shown twice or never acknowledged is a failure too.
 */
export const historySubject: DamageSubject = {
  name: 'history',
  async populate(directory: string, mode: Mode, variant: number): Promise<Fixture> {
    const { history } = await JobHistory.open({ directory, wasmPath, ...layout });
    const sequence = (): number => (history.log as DurableHistoryLog).durableStore?.sequence ?? -1;
    const acknowledged = new Map<string, Acknowledged>();
    const append = async (index: number): Promise<void> => {
      const input = entry(index, variant);
      await history.append(input);
      acknowledged.set(input.jobId, { finishedAt: input.finishedAt, sequence: sequence(), archived: false });
    };
    for (let index = 0; index < 24; index++) await append(index);
    await history.archiveNow();
    await history.compact(); // the sql.js image, with a journal of later records beside it
    for (let index = 24; index < 40; index++) await append(index);
    await history.archiveNow();
    await history.whenIdle();
    for (const jobId of (await listEntries(history)).archived) (acknowledged.get(jobId) as Acknowledged).archived = true;
    let inflight: string | undefined;
    if (mode === 'crash') {
      inflight = entry(99, variant).jobId;
      await history.append(entry(99, variant));
      await history.whenIdle();
    }
    // A clean close first (it may write what marks it clean); a crash image is taken with the store still open.
    if (mode === 'clean') await history.close();
    const image = readImage(directory);
    return {
      image,
      journals: new Set([...image.keys()].filter((file) => file.endsWith('.journal'))),
      open: (trialDirectory) => openAndJudge(trialDirectory, acknowledged, inflight),
      dispose: () => history.close(),
    };
  },
};

async function openAndJudge(
  directory: string,
  acknowledged: ReadonlyMap<string, Acknowledged>,
  inflight: string | undefined,
): Promise<TrialResult> {
  const events: StorageEvent[] = [];
  const lost: LostShard[] = [];
  const archiveTypes: string[] = [];
  const { history, report } = await JobHistory.open({
    directory,
    wasmPath,
    ...layout,
    onStorageEvent: (event) => events.push(event),
    onLostShard: (shard) => lost.push(shard),
    // The archive's own reports (#16), given where the archive has them: spread, so this compiles without them.
    ...{ onArchiveEvent: (event: { readonly type: string }) => archiveTypes.push(event.type) },
  });
  const seen = new Map<string, number>();
  try {
    await history.whenIdle();
    const listed = await listEntries(history);
    for (const jobId of [...listed.active, ...listed.archived]) seen.set(jobId, (seen.get(jobId) ?? 0) + 1);
    lost.push(...listed.lost);
  } finally {
    await history.close();
  }
  lost.push(...report.lostShards);
  const archiveEvents = archiveTypes.filter((type) => type !== 'leftoverRemoved');
  // A shard no index named that did not verify: what it held is unknown, so it covers any archived entry.
  const unknownShardLost = archiveTypes.includes('unknownShardQuarantined');
  const said = [summarize(events), ...(lost.length > 0 ? ['lostShard'] : []), ...new Set(archiveEvents)].join('+');
  const extra = [...seen].filter(([jobId, count]) => count > 1 || (!acknowledged.has(jobId) && jobId !== inflight));
  if (extra.length > 0) {
    return { outcome: 'silent', said, detail: `shown twice or never acknowledged: ${extra.map(([id]) => id).join(', ')}` };
  }
  const missing = [...acknowledged].filter(([jobId]) => !seen.has(jobId));
  if (missing.length === 0) return { outcome: 'intact', said, detail: 'every acknowledged entry came back' };
  const stateLost = events.some((event) => event.type === 'stateLost');
  const losses = events.flatMap((event) => (event.type === 'dataLost' ? [event] : []));
  const uncovered = missing.filter(([, entry]) =>
    entry.archived
      ? !unknownShardLost && !lost.some((shard) => shard.minFinishedAt <= entry.finishedAt && entry.finishedAt <= shard.maxFinishedAt)
      : !stateLost &&
        !losses.some((loss) => loss.fromSequence <= entry.sequence && (loss.toSequence === undefined || entry.sequence <= loss.toSequence)),
  );
  if (uncovered.length === 0) return { outcome: 'reported', said, detail: `${missing.length} entries lost, all reported` };
  return {
    outcome: 'silent',
    said,
    detail: `${uncovered.length} of ${acknowledged.size} acknowledged entries gone unreported (${uncovered
      .slice(0, 3)
      .map(([id]) => id)
      .join(', ')}…)`,
  };
}

/** Every entry the history shows: the active ones, the archived ones, and the shards found lost while paging. */
async function listEntries(history: JobHistory): Promise<{ active: string[]; archived: string[]; lost: LostShard[] }> {
  const listed = { active: [] as string[], archived: [] as string[], lost: [] as LostShard[] };
  let cursor: string | undefined;
  do {
    const page = history.page({ limit: 1000, cursor });
    listed.active.push(...page.entries.map((row) => row.jobId));
    cursor = page.nextCursor;
  } while (cursor);
  do {
    const page = await history.archivePage({ limit: 1000, cursor });
    listed.archived.push(...page.entries.map((row) => row.entry.jobId));
    listed.lost.push(...page.lost);
    cursor = page.nextCursor;
  } while (cursor);
  return listed;
}
