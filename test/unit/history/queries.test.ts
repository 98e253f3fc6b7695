import * as assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock';
import { HistoryError } from '../../../src/core/history/historyErrors';
import type { HistoryEntry } from '../../../src/core/history/historyEntry';
import { MemoryHistoryLog } from '../../../src/core/history/historyLog';
import type { JobHistory } from '../../../src/core/history/jobHistory';
import { sortColumns } from '../../../src/core/history/historyQuery';
import type { HistoryFilter, SortColumn } from '../../../src/core/history/historyQuery';
import { day, epoch, makeEntry, openHistory, tempDir } from './historyFixtures';

function pageAll(history: JobHistory, sort: SortColumn, direction: 'asc' | 'desc', filter: HistoryFilter = {}, limit = 7): HistoryEntry[] {
  const all: HistoryEntry[] = [];
  let cursor: string | undefined;
  do {
    const page = history.page({ sort, direction, filter, limit, cursor });
    all.push(...page.entries);
    cursor = page.nextCursor;
  } while (cursor);
  return all;
}

describe('history queries', () => {
  let dir: ReturnType<typeof tempDir>;
  let history: JobHistory;
  before(async () => {
    dir = tempDir('queries');
    // 120 active entries (ids 181..300) and 180 archived, hourly from 2026-01-01.
    ({ history } = await openHistory(dir.path, {
      log: new MemoryHistoryLog(),
      maxActiveEntries: 120,
      archiveMargin: 0,
      maxShardBytes: 48 * 1024,
      clock: new ManualClock(epoch + 300 * 3_600_000),
    }));
    for (let i = 1; i <= 300; i++) {
      await history.append(
        makeEntry(
          i,
          i === 250
            ? { name: 'deploy site', command: 'rsync -a "out dir"/ host:/srv', durationMs: undefined }
            : i === 260
              ? {
                  command: undefined,
                  stages: [
                    { name: 'lint', command: 'npm run lint' },
                    { name: 'test', command: 'npm test' },
                  ],
                }
              : {},
        ),
      );
    }
    await history.whenIdle();
  });
  after(async () => {
    await history.close();
    dir.remove();
  });

  it('sorts the active history by every column with keyset pages that neither skip nor repeat', () => {
    for (const sort of Object.keys(sortColumns) as SortColumn[]) {
      for (const direction of ['asc', 'desc'] as const) {
        const paged = pageAll(history, sort, direction);
        assert.equal(paged.length, 120, `${sort} ${direction}`);
        assert.equal(new Set(paged.map((e) => e.jobId)).size, 120, `${sort} ${direction} repeats`);
        const key = sortColumns[sort].sql;
        const values = paged.map((e) =>
          key === 'seq'
            ? 0
            : (history.active.rows(`SELECT ifnull(${key}, -1e308) AS v FROM entries WHERE job_id = ?`, [e.jobId])[0]?.v ?? null),
        );
        for (let i = 1; i < values.length; i++) {
          const [a, b] = [values[i - 1], values[i]] as [number | string, number | string];
          assert.ok(direction === 'asc' ? a <= b : a >= b, `${sort} ${direction} out of order at ${i}`);
        }
      }
    }
  });

  it('filters by state, date range and tag, and searches name and command with FTS4', () => {
    const failed = pageAll(history, 'finishedAt', 'desc', { states: ['failed'] });
    assert.equal(failed.length, 12);
    const from = epoch + 200 * 3_600_000;
    const ranged = pageAll(history, 'finishedAt', 'asc', { from, to: from + 10 * 3_600_000 });
    assert.deepEqual(
      ranged.map((e) => e.jobId),
      [200, 201, 202, 203, 204, 205, 206, 207, 208, 209].map((i) => makeEntry(i).jobId),
    );
    const gpu = pageAll(history, 'finishedAt', 'asc', { tag: 'gpu' });
    assert.ok(gpu.length > 0 && gpu.every((e) => e.tags.includes('gpu')));
    assert.deepEqual(
      pageAll(history, 'added', 'desc', { search: 'deplo' }).map((e) => e.jobId),
      [makeEntry(250).jobId],
    );
    assert.deepEqual(
      pageAll(history, 'added', 'desc', { search: 'RSYNC srv' }).map((e) => e.jobId),
      [makeEntry(250).jobId],
    );
    assert.equal(pageAll(history, 'added', 'desc', { search: 'frontend task3' }).length, 8);
    assert.equal(pageAll(history, 'added', 'desc', { search: 'lint' }).length, 1, 'stages are searchable');
    assert.equal(pageAll(history, 'added', 'desc', { search: '"( * -' }).length, 120, 'operators are not passed through');
  });

  it('pages the archive newest and oldest first across shards, with filters and search', async () => {
    assert.ok(history.archive.shards.length > 2);
    for (const direction of ['asc', 'desc'] as const) {
      for (const filter of [
        {},
        { states: ['failed'] },
        { search: 'frontend' },
        { tag: 'gpu', from: epoch + 20 * 3_600_000 },
      ] as HistoryFilter[]) {
        const seen: HistoryEntry[] = [];
        let cursor: string | undefined;
        do {
          const page = await history.archivePage({ direction, filter, limit: 11, cursor });
          seen.push(...page.entries.map((e) => e.entry));
          cursor = page.nextCursor;
        } while (cursor);
        const expected = Array.from({ length: 180 }, (_, k) => makeEntry(k + 1))
          .filter(
            (e) =>
              (filter.states ? e.state === 'failed' : true) &&
              (filter.search ? e.name.includes('frontend') : true) &&
              (filter.tag ? (e.tags ?? []).includes('gpu') && e.finishedAt >= (filter.from ?? 0) : true),
          )
          .map((e) => e.jobId);
        if (direction === 'desc') expected.reverse();
        assert.deepEqual(
          seen.map((e) => e.jobId),
          expected,
          `${direction} ${JSON.stringify(filter)}`,
        );
      }
    }
  });

  it('refuses a cursor from another query', async () => {
    const page = history.page({ sort: 'name', limit: 5 });
    assert.ok(page.nextCursor);
    assert.throws(
      () => history.page({ sort: 'durationMs', cursor: page.nextCursor }),
      (e) => HistoryError.is(e, 'invalidCursor'),
    );
    await assert.rejects(history.archivePage({ cursor: 'garbage!' }), (e) => HistoryError.is(e, 'invalidCursor'));
  });

  it('computes statistics over the last N days across active and archive, with a per-day series', async () => {
    const stats = await history.statistics({ days: 10 });
    // now = hour 300 (day 12, 12:00): the last 10 days start at day 3 00:00 = hour 72.
    assert.equal(stats.count, 300 - 72 + 1);
    assert.equal(stats.series.length, 10);
    assert.equal(
      stats.series.reduce((sum, d) => sum + d.count, 0),
      stats.count,
    );
    assert.equal(stats.series[0]?.day, '2026-01-04');
    assert.equal(stats.series[0]?.count, 24);
    const failedCount = Array.from({ length: 229 }, (_, k) => k + 72).filter((i) => i % 10 === 0).length;
    assert.equal(stats.successRate, (stats.count - failedCount) / stats.count);
    assert.ok(stats.meanDurationMs !== undefined && stats.meanDurationMs > 1000 && stats.meanDurationMs < 21000);
    assert.equal(stats.p95DurationMs, 20000);
    const empty = await history.statistics({ days: 1, now: epoch + 400 * day });
    assert.equal(empty.count, 0);
    assert.equal(empty.successRate, 0);
  });

  it("buckets days in the caller's time zone", async () => {
    // UTC+12: local midnight is 12:00 UTC, so the local day of hour 300 (day 12, 12:00 UTC) begins then.
    const stats = await history.statistics({ days: 1, utcOffsetMinutes: 12 * 60 });
    assert.equal(stats.count, 1);
    assert.equal(stats.series[0]?.day, '2026-01-14');
  });

  it('finds earlier runs of the same command across active and archive, and estimates a duration', async () => {
    const runs = await history.earlierRuns({ command: 'npm run task2' }, { limit: 50 });
    assert.equal(runs.length, 50);
    assert.ok(runs.every((e) => e.command === 'npm run task2'));
    assert.ok(
      runs.some((e) => e.finishedAt < epoch + 180 * 3_600_000),
      'reaches into the archive',
    );
    for (let i = 1; i < runs.length; i++) assert.ok((runs[i - 1]?.finishedAt ?? 0) >= (runs[i]?.finishedAt ?? 0));
    const staged = await history.earlierRuns({
      stages: [
        { name: 'lint', command: 'npm run lint' },
        { name: 'test', command: 'npm test' },
      ],
    });
    assert.deepEqual(
      staged.map((e) => e.jobId),
      [makeEntry(260).jobId],
    );
    const estimate = await history.estimateDuration({ name: 'x', command: 'npm run task2' });
    assert.equal(estimate?.source, 'command');
    assert.equal(estimate?.basedOn, 10);
    assert.ok(estimate && estimate.estimatedMs >= 3000 && estimate.estimatedMs <= 18000);
    assert.equal((await history.estimateDuration({ name: 'build frontend', command: 'never ran' }))?.source, 'name');
    assert.equal(await history.estimateDuration({ name: 'nothing', command: 'never ran' }), undefined);
  });

  it('counts a restored entry once in statistics', async () => {
    const before = await history.statistics({ days: 13 });
    const archived = (await history.archivePage({ limit: 1 })).entries[0];
    assert.ok(archived);
    await history.restore(archived.shard, archived.entry.jobId);
    const after = await history.statistics({ days: 13 });
    assert.equal(after.count, before.count);
    assert.ok(day > 0);
  });
});
