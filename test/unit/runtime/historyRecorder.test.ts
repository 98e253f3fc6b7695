import * as assert from 'node:assert/strict';
import type { Job } from '../../../src/core/queue/jobModel';
import { retryPolicySchema } from '../../../src/core/queue/retryPolicy';
import { historyEntryId, historyEntryOf, HistoryRecorder } from '../../../src/core/runtime/historyRecorder';
import { openHistory, tempDir } from '../history/historyFixtures';

function job(id: string, overrides: Partial<Job> = {}): Job {
  return {
    id,
    name: `job ${id}`,
    kind: 'command',
    group: 'default',
    stages: [{ name: 'main', command: `make ${id}`, cwd: '/work', outputs: [] }],
    priority: 0,
    position: 1,
    tags: ['ci'],
    state: 'succeeded',
    createdAt: 1000,
    startedAt: 2000,
    finishedAt: 5000,
    actualDurationMs: 3000,
    retry: retryPolicySchema.parse({}),
    attempts: 1,
    completedStages: ['main'],
    interruptions: 0,
    result: { exitCode: 0, signal: null, warnings: [], files: [] },
    ...overrides,
  };
}

describe('history: recording finished jobs', () => {
  it('maps a job to an entry: timeouts, abandoned jobs and pipelines say what they were', () => {
    const timedOut = historyEntryOf(
      job('t', {
        state: 'failed',
        result: { exitCode: null, signal: 'SIGKILL', error: 'timed out after 10 ms', warnings: [], files: [], timedOut: true },
      }),
      'tail',
    );
    assert.equal(timedOut.state, 'timedOut');
    assert.equal(timedOut.outputTail, 'tail');
    const abandoned = historyEntryOf(job('a', { state: 'cancelled', abandoned: true }), undefined);
    assert.equal(abandoned.state, 'interrupted');
    assert.match(abandoned.error ?? '', /abandoned/);
    const pipeline = historyEntryOf(
      job('p', {
        kind: 'pipeline',
        stages: [
          { name: 'a', command: 'x', cwd: '/w', outputs: [] },
          { name: 'b', command: 'y', cwd: '/w', outputs: [] },
        ],
      }),
      undefined,
    );
    assert.deepEqual(pipeline.stages, [
      { name: 'a', command: 'x' },
      { name: 'b', command: 'y' },
    ]);
    assert.equal(pipeline.command, undefined);
    assert.equal(historyEntryId(job('r', { finishedAt: 5000.4 })), 'r@5000');
  });

  it('records a job once when it ends, each run of a job as its own entry, and reconciles what a crash skipped', async () => {
    const dir = tempDir('recorder');
    try {
      const { history } = await openHistory(dir.path);
      const recorder = new HistoryRecorder(history, async (j) => `output of ${j.id}`);
      await recorder.jobChanged(job('a', { state: 'running', finishedAt: undefined }), 'queued');
      await recorder.jobChanged(job('a'), 'running');
      await recorder.jobChanged(job('a'), 'succeeded');
      await recorder.jobChanged(
        job('a', { state: 'failed', finishedAt: 9000, result: { exitCode: 2, signal: null, warnings: [], files: [] } }),
        'running',
      );
      let page = history.page({ sort: 'finishedAt', direction: 'asc' });
      assert.deepEqual(
        page.entries.map((e) => [e.jobId, e.state, e.exitCode, e.outputTail]),
        [
          ['a@5000', 'succeeded', 0, 'output of a'],
          ['a@9000', 'failed', 2, 'output of a'],
        ],
      );
      // The holder died after the queue recorded b and c as finished, before the history did.
      const queueJobs = [
        job('a', { state: 'failed', finishedAt: 9000 }),
        job('old', { finishedAt: 100 }),
        job('b', { finishedAt: 9500 }),
        job('c', { finishedAt: 9700 }),
        job('q', { state: 'queued', finishedAt: undefined }),
      ];
      assert.equal(await recorder.reconcile(queueJobs), 2, 'b and c; a is recorded, old is older than every entry');
      page = history.page({ sort: 'finishedAt', direction: 'asc' });
      assert.deepEqual(
        page.entries.map((e) => e.jobId),
        ['a@5000', 'a@9000', 'b@9500', 'c@9700'],
      );
      assert.equal(await recorder.reconcile(queueJobs), 0, 'nothing is missing any more');
      assert.equal(history.page().entries.length, 4, 'nothing shows twice');
      await history.close();
    } finally {
      dir.remove();
    }
  });

  it('reconciles a missed job that finished before entries recorded ahead of it (it ended while no window was open)', async () => {
    const dir = tempDir('recorder-order');
    try {
      const { history } = await openHistory(dir.path);
      const recorder = new HistoryRecorder(history, async () => undefined);
      // The next window found three jobs that had ended while none was open, each with the time its
      // supervisor recorded, and committed them in the order it read them: c, then b, then a. The
      // history got c and a; the window died before b (finished between them) was recorded.
      await recorder.jobChanged(job('first', { finishedAt: 1000 }), 'running');
      await recorder.jobChanged(job('c', { finishedAt: 9000 }), 'running');
      await recorder.jobChanged(job('a', { finishedAt: 3000 }), 'running');
      const queueJobs = [
        job('first', { finishedAt: 1000 }),
        job('a', { finishedAt: 3000 }),
        job('b', { finishedAt: 6000 }),
        job('c', { finishedAt: 9000 }),
      ];
      const next = new HistoryRecorder(history, async () => undefined);
      assert.equal(await next.reconcile(queueJobs), 1);
      assert.deepEqual(
        history.page({ sort: 'finishedAt', direction: 'asc' }).entries.map((e) => e.jobId),
        ['first@1000', 'a@3000', 'b@6000', 'c@9000'],
      );
      await history.close();
    } finally {
      dir.remove();
    }
  });

  it('drops a recording once this process may no longer write the history (its lease moved); the next holder reconciles it', async () => {
    const dir = tempDir('recorder-fenced');
    try {
      const { history } = await openHistory(dir.path);
      let holder = true;
      const recorder = new HistoryRecorder(
        history,
        async () => undefined,
        undefined,
        () => holder,
      );
      await recorder.jobChanged(job('kept'), 'running');
      holder = false;
      await recorder.jobChanged(job('dropped', { finishedAt: 6000 }), 'running');
      assert.deepEqual(
        history.page().entries.map((e) => e.jobId),
        ['kept@5000'],
      );
      const next = new HistoryRecorder(history, async () => undefined);
      assert.equal(await next.reconcile([job('kept'), job('dropped', { finishedAt: 6000 })]), 1, 'the dropped one');
      assert.deepEqual(
        history.page({ sort: 'finishedAt', direction: 'asc' }).entries.map((e) => e.jobId),
        ['kept@5000', 'dropped@6000'],
      );
      await history.close();
    } finally {
      dir.remove();
    }
  });
});
