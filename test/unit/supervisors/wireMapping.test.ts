import * as assert from 'node:assert/strict';
import type { RunRequest } from '../../../src/core/queue/jobRunner';
import { runEventOf, summarizeRun, toProcessIdentity, toWireRunRequest } from '../../../src/core/supervisors/wireMapping';
import type { JobRecord } from '../../../src/shared/supervisor/supervisorWire';
import { hostMessageSchema } from '../../../src/shared/supervisor/supervisorWire';

/** The queue's model and the supervisor's wire meet in one module, both ways. */
describe('supervisor wire: the mapping between the queue and the wire', () => {
  const request: RunRequest = {
    jobId: 'j',
    attempt: 2,
    stages: [
      { name: 'build', command: 'make', cwd: '/w', env: { A: '1' }, outputs: ['dist/a.js'], timeoutMs: 5000, killGraceMs: 250 },
      { name: 'test', command: 'make test', cwd: '/w', outputs: [] },
    ],
    fromStage: 1,
    checkpoint: 'c1',
  };

  it('a run request goes out with only what a supervisor runs: no outputs nor timeouts, no undefined fields', () => {
    assert.deepEqual(toWireRunRequest(request), {
      jobId: 'j',
      attempt: 2,
      stages: [
        { name: 'build', command: 'make', cwd: '/w', env: { A: '1' }, killGraceMs: 250 },
        { name: 'test', command: 'make test', cwd: '/w' },
      ],
      fromStage: 1,
      checkpoint: 'c1',
    });
    assert.equal('checkpoint' in toWireRunRequest({ ...request, checkpoint: undefined }), false);
  });

  it('what goes out is a valid run message', () => {
    const message = {
      op: 'run',
      request: toWireRunRequest(request),
      journalPath: '/j/j.2.journal',
      logPath: '/j/j.2.log',
      logLimitBytes: 1024,
      heartbeatMs: 100,
    };
    assert.deepEqual(hostMessageSchema.parse(JSON.parse(JSON.stringify(message))), message);
  });

  it('each journal record becomes the event the queue expects, with the times of the process that saw them', () => {
    const supervisor = { pid: 40, startTime: '77', host: 'h' };
    const run = { jobId: 'j', attempt: 2, startedAt: 1000 };
    const cases: [JobRecord, unknown][] = [
      [
        { t: 'started', at: 1000, jobId: 'j', attempt: 2, supervisor, socketPath: '/s', fromStage: 0 },
        { type: 'started', jobId: 'j', attempt: 2, pid: 40, at: 1000 },
      ],
      [
        { t: 'stageStarted', at: 1001, stage: 0, process: { pid: 41, host: 'h' } },
        { type: 'stageStarted', jobId: 'j', attempt: 2, stage: 0, process: { pid: 41, host: 'h' }, at: 1001 },
      ],
      [
        { t: 'stageStarted', at: 1001, stage: 0 },
        { type: 'stageStarted', jobId: 'j', attempt: 2, stage: 0, process: undefined, at: 1001 },
      ],
      [{ t: 'heartbeat', at: 1002 }, undefined],
      [
        { t: 'progress', at: 1003, fraction: 0.5 },
        { type: 'progress', jobId: 'j', attempt: 2, fraction: 0.5, message: undefined },
      ],
      [
        { t: 'checkpoint', at: 1004, checkpoint: 'c' },
        { type: 'checkpoint', jobId: 'j', attempt: 2, checkpoint: 'c' },
      ],
      [
        { t: 'stageFinished', at: 1005, stage: 0, exitCode: 0, signal: null },
        { type: 'stageFinished', jobId: 'j', attempt: 2, stage: 0, exitCode: 0, signal: null },
      ],
      [
        { t: 'exited', at: 1006, exitCode: 3, signal: null },
        { type: 'exited', jobId: 'j', attempt: 2, exitCode: 3, signal: null, error: undefined, at: 1006, startedAt: 1000 },
      ],
    ];
    for (const [record, event] of cases) assert.deepEqual(runEventOf(record, run), event, record.t);
    assert.deepEqual(runEventOf({ t: 'exited', at: 9, exitCode: 0, signal: null, error: 'e' }, { ...run, startedAt: undefined }), {
      type: 'exited',
      jobId: 'j',
      attempt: 2,
      exitCode: 0,
      signal: null,
      error: 'e',
      at: 9,
    });
  });

  it('an exit by the stop-without-host setting is interrupted, not failed, and says why', () => {
    const event = runEventOf(
      { t: 'exited', at: 5, exitCode: null, signal: 'SIGTERM', error: 'anything', stoppedWithoutHost: { afterMs: 30_000 } },
      { jobId: 'j', attempt: 1, startedAt: 1 },
    );
    assert.deepEqual(event, {
      type: 'exited',
      jobId: 'j',
      attempt: 1,
      exitCode: null,
      signal: 'SIGTERM',
      error: 'stopped because no VS Code window held the queue for 30 s',
      interrupted: true,
      at: 5,
      startedAt: 1,
    });
  });

  it('a process identity without a start time stays without one', () => {
    assert.deepEqual(toProcessIdentity({ pid: 1, host: 'h' }), { pid: 1, host: 'h' });
    assert.equal('startTime' in toProcessIdentity({ pid: 1, host: 'h' }), false);
    assert.deepEqual(toProcessIdentity({ pid: 1, startTime: '9', host: 'h' }), { pid: 1, startTime: '9', host: 'h' });
  });

  it('a run is summed up from its records: last stage started, last checkpoint, stages that succeeded', () => {
    const records: JobRecord[] = [
      { t: 'stageStarted', at: 1, stage: 0 },
      { t: 'checkpoint', at: 2, checkpoint: 'a' },
      { t: 'stageFinished', at: 3, stage: 0, exitCode: 0, signal: null },
      { t: 'stageStarted', at: 4, stage: 1 },
      { t: 'checkpoint', at: 5, checkpoint: 'b' },
      { t: 'stageFinished', at: 6, stage: 1, exitCode: 1, signal: null },
    ];
    assert.deepEqual(summarizeRun(records), { stage: 1, checkpoint: 'b', succeededStages: [0] });
  });
});
