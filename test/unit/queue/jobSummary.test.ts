import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Job } from '../../../src/core/queue/jobModel';
import { retryPolicySchema } from '../../../src/core/queue/retryPolicy';
import { describeJobState, describeRecovery, recoveryInfo } from '../../../src/core/queue/jobSummary';

function pipeline(dir: string, overrides: Partial<Job> = {}): Job {
  return {
    id: 'j1',
    name: 'render',
    kind: 'pipeline',
    group: 'default',
    stages: ['fetch', 'render', 'report'].map((name) => ({ name, command: `make ${name}`, cwd: dir, outputs: [`out/${name}.txt`] })),
    priority: 0,
    position: 1,
    tags: [],
    state: 'running',
    createdAt: 0,
    retry: retryPolicySchema.parse({}),
    attempts: 1,
    completedStages: [],
    interruptions: 0,
    ...overrides,
  };
}

describe('jobs: how a job reads in the views', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-summary-'));
    mkdirSync(join(dir, 'out'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('says the stage, the percentage and the message of a running pipeline', () => {
    assert.equal(
      describeJobState(pipeline(dir, { currentStage: 1, progress: { fraction: 0.425, message: 'frames' } })),
      'running · stage 2/3 render · 43% · frames',
    );
    assert.equal(
      describeJobState(pipeline(dir, { state: 'failed', result: { exitCode: 2, signal: null, warnings: [], files: [] } })),
      'failed (exit 2)',
    );
    assert.equal(describeJobState(pipeline(dir, { state: 'interrupted', interruptions: 2 })), 'interrupted 2× in a row');
    assert.equal(describeJobState(pipeline(dir, { state: 'cancelled', abandoned: true })), 'discarded');
    assert.equal(describeJobState(pipeline(dir, { state: 'succeeded', actualDurationMs: 125_000 })), 'succeeded in 2 min 5 s');
    assert.equal(
      describeJobState(pipeline(dir, { state: 'queued', attempts: 0, estimatedDurationMs: 90_000 })),
      'queued · usually 1 min 30 s',
      'the estimate from earlier runs',
    );
  });

  it('tells where an interrupted pipeline resumes, checking declared outputs on disk', () => {
    writeFileSync(join(dir, 'out', 'fetch.txt'), 'x');
    const job = pipeline(dir, {
      state: 'interrupted',
      completedStages: ['fetch', 'render'],
      checkpoint: '{"frame":120}',
      startedAt: 1000,
      finishedAt: 61_000,
      interruptions: 1,
    });
    const info = recoveryInfo(job);
    assert.deepEqual(info.resumeStage, { index: 1, name: 'render' }, 'render finished but its output is gone: it runs again');
    assert.deepEqual(info.outputsPresent, ['out/fetch.txt']);
    assert.deepEqual(info.outputsMissing, ['out/render.txt']);
    assert.equal(info.ranForMs, 60_000);
    assert.equal(
      describeRecovery(job, info),
      'resumes at stage 2/3 "render", from checkpoint {"frame":120}, missing output out/render.txt, had run 1 min',
    );
  });

  it('says which limit stopped a timed-out job, in time as people read it', () => {
    const timedOut = { exitCode: null, signal: 'SIGKILL', warnings: [], files: [], timedOut: true };
    const command = pipeline(dir, {
      kind: 'command',
      stages: [{ name: 'main', command: 'sleep 9', cwd: dir, outputs: [] }],
      state: 'failed',
      currentStage: 0,
      timeoutMs: 2000,
      actualDurationMs: 2050,
      result: timedOut,
    });
    assert.equal(describeJobState(command), 'timed out after 2 s');
    assert.equal(
      describeJobState({ ...command, result: { ...timedOut, timedOut: undefined } }),
      'failed (SIGKILL)',
      'killed, not by a timeout',
    );
    const staged = pipeline(dir, { state: 'failed', currentStage: 1, actualDurationMs: 240_100, result: timedOut });
    staged.stages[1] = { ...staged.stages[1]!, timeoutMs: 240_000 };
    assert.equal(describeJobState(staged), 'timed out after 4 min in stage 2/3 render');
    assert.equal(
      describeJobState({ ...staged, timeoutMs: 4_800_000 }),
      'timed out after 4 min in stage 2/3 render',
      "the stage's limit, short of the job's",
    );
    assert.equal(describeJobState({ ...staged, timeoutMs: 200_000 }), 'timed out after 3 min 20 s', "the job's limit, reached first");
  });
});
