import type { ActiveHistory } from './activeHistory';
import type { Archive } from './archive';
import { commandText, rowToEntry } from './historyEntry';
import type { HistoryEntry } from './historyEntry';

const dayMs = 86_400_000;

export interface DayStatistics {
  /** YYYY-MM-DD in the caller's time zone (utcOffsetMinutes). */
  readonly day: string;
  readonly count: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly meanDurationMs?: number;
}

export interface HistoryStatistics {
  readonly from: number;
  readonly to: number;
  readonly count: number;
  readonly succeeded: number;
  /** succeeded / count; 0 when there is nothing. */
  readonly successRate: number;
  readonly meanDurationMs?: number;
  readonly p95DurationMs?: number;
  /** One point per day, oldest first, days without jobs included (for charts). */
  readonly series: readonly DayStatistics[];
}

export interface StatisticsRequest {
  /** The last N days, today included. */
  readonly days: number;
  /** @default Date.now() */
  readonly now?: number;
  /** Where "a day" starts, relative to UTC. @default 0 */
  readonly utcOffsetMinutes?: number;
}

/** Statistics over the active history and the shards that overlap the range, each job counted once. */
export async function computeStatistics(active: ActiveHistory, archive: Archive, request: StatisticsRequest): Promise<HistoryStatistics> {
  const offset = (request.utcOffsetMinutes ?? 0) * 60_000;
  const now = request.now ?? Date.now();
  const days = Math.max(1, Math.floor(request.days));
  const firstDay = Math.floor((now + offset) / dayMs) - (days - 1);
  const from = firstDay * dayMs - offset;
  const to = now + 1;
  const sql = 'SELECT job_id, finished_at, state, duration_ms FROM entries WHERE finished_at >= ? AND finished_at < ?';
  const seen = new Set<string>();
  const rows: { finishedAt: number; state: string; duration: number | null }[] = [];
  const take = (batch: Record<string, unknown>[]): void => {
    for (const row of batch) {
      const id = String(row.job_id);
      if (seen.has(id)) continue;
      seen.add(id);
      rows.push({
        finishedAt: Number(row.finished_at),
        state: String(row.state),
        duration: typeof row.duration_ms === 'number' ? row.duration_ms : null,
      });
    }
  };
  take(active.rows(sql, [from, to]));
  for await (const batch of archive.select({ from, to }, sql, [from, to])) take(batch);
  const buckets = new Map<number, { count: number; succeeded: number; failed: number; durations: number[] }>();
  for (let day = 0; day < days; day++) buckets.set(firstDay + day, { count: 0, succeeded: 0, failed: 0, durations: [] });
  const durations: number[] = [];
  let succeeded = 0;
  for (const row of rows) {
    const bucket = buckets.get(Math.floor((row.finishedAt + offset) / dayMs));
    if (row.state === 'succeeded') succeeded++;
    if (row.duration !== null) durations.push(row.duration);
    if (!bucket) continue;
    bucket.count++;
    if (row.state === 'succeeded') bucket.succeeded++;
    if (row.state === 'failed') bucket.failed++;
    if (row.duration !== null) bucket.durations.push(row.duration);
  }
  const series = [...buckets.entries()].map(([day, bucket]) => ({
    day: new Date(day * dayMs).toISOString().slice(0, 10),
    count: bucket.count,
    succeeded: bucket.succeeded,
    failed: bucket.failed,
    meanDurationMs: mean(bucket.durations),
  }));
  return {
    from,
    to,
    count: rows.length,
    succeeded,
    successRate: rows.length ? succeeded / rows.length : 0,
    meanDurationMs: mean(durations),
    p95DurationMs: percentile(durations, 95),
    series,
  };
}

export interface EarlierRunsRequest {
  /** @default 20 */
  readonly limit?: number;
  /** How many of the newest matching shards to search beyond the active history. @default 12 */
  readonly archiveShards?: number;
  readonly states?: readonly HistoryEntry['state'][];
}

/** Earlier runs of the same command (or the same stages), newest first, active history then archive. */
export async function findEarlierRuns(
  active: ActiveHistory,
  archive: Archive,
  job: Pick<HistoryEntry, 'command' | 'stages'>,
  request: EarlierRunsRequest = {},
): Promise<HistoryEntry[]> {
  const limit = Math.max(1, Math.min(1000, request.limit ?? 20));
  const text = commandText(job);
  const states = request.states ?? [];
  const stateSql = states.length ? ` AND state IN (${states.map(() => '?').join(',')})` : '';
  const sql = `SELECT * FROM entries WHERE command = ?${stateSql} ORDER BY finished_at DESC LIMIT ?`;
  const found = new Map<string, HistoryEntry>();
  for (const entry of active.all(sql, [text, ...states, limit])) found.set(entry.jobId, entry);
  if (found.size < limit) {
    for await (const rows of archive.select({ states }, sql, [text, ...states, limit], request.archiveShards ?? 12)) {
      for (const row of rows) if (!found.has(String(row.job_id))) found.set(String(row.job_id), rowToEntry(row));
      if (found.size >= limit) break;
    }
  }
  return [...found.values()].sort((a, b) => b.finishedAt - a.finishedAt).slice(0, limit);
}

export interface DurationEstimate {
  readonly estimatedMs: number;
  /** How many earlier successful runs it rests on. */
  readonly basedOn: number;
  readonly source: 'command' | 'name';
}

/** The median duration of the last successful runs of the same command, else of the same name. */
export async function estimateDuration(
  active: ActiveHistory,
  archive: Archive,
  job: Pick<HistoryEntry, 'command' | 'stages' | 'name'>,
  sample = 10,
): Promise<DurationEstimate | undefined> {
  const byCommand = (await findEarlierRuns(active, archive, job, { limit: sample, states: ['succeeded'], archiveShards: 6 })).flatMap(
    (e) => (e.durationMs === undefined ? [] : [e.durationMs]),
  );
  if (byCommand.length > 0) return { estimatedMs: median(byCommand), basedOn: byCommand.length, source: 'command' };
  const byName = active
    .rows(
      "SELECT duration_ms FROM entries WHERE name = ? AND state = 'succeeded' AND duration_ms IS NOT NULL ORDER BY finished_at DESC LIMIT ?",
      [job.name, sample],
    )
    .map((row) => Number(row.duration_ms));
  return byName.length > 0 ? { estimatedMs: median(byName), basedOn: byName.length, source: 'name' } : undefined;
}

function mean(values: readonly number[]): number | undefined {
  return values.length ? values.reduce((sum, value) => sum + value, 0) / values.length : undefined;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Nearest-rank percentile. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
