import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunEvent, RunRequest } from '../../../src/core/jobs/jobRunner';
import { parseJobLine } from '../../../src/core/jobs/jobRunner';
import { ProcessRunner } from '../../../src/core/jobs/processRunner';

/** Alive and not a zombie: in a container nobody may reap an orphan that was killed. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('jobs: process runner', () => {
  let dir: string;
  let runner: ProcessRunner;
  let events: RunEvent[];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-runner-'));
    runner = new ProcessRunner({ logDir: join(dir, 'logs') });
    events = [];
    runner.onDidRun((event) => events.push(event));
  });
  afterEach(async () => {
    await runner.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const exited = (jobId: string): Promise<Extract<RunEvent, { type: 'exited' }>> =>
    new Promise((resolve) => {
      const sub = runner.onDidRun((event) => {
        if (event.type === 'exited' && event.jobId === jobId) {
          sub.dispose();
          resolve(event);
        }
      });
    });
  const request = (jobId: string, commands: string[], extra: Partial<RunRequest> = {}): RunRequest => ({
    jobId,
    attempt: 1,
    stages: commands.map((command, i) => ({ name: `s${i}`, command, cwd: dir, outputs: [] })),
    fromStage: 0,
    checkpoint: undefined,
    ...extra,
  });

  it('parses the progress and checkpoint line protocol', () => {
    assert.deepEqual(parseJobLine('::lifeline progress 0.5 half way'), { kind: 'progress', fraction: 0.5, message: 'half way' });
    assert.deepEqual(parseJobLine('::lifeline progress 7'), { kind: 'progress', fraction: 1, message: undefined });
    assert.deepEqual(parseJobLine('::lifeline checkpoint {"step":3}'), { kind: 'checkpoint', checkpoint: '{"step":3}' });
    assert.equal(parseJobLine('hello'), undefined);
  });

  it('runs stages in order from the given one, reports progress and checkpoints, and hands the checkpoint in', async () => {
    const done = exited('j');
    runner.start(request('j', ['echo one', 'echo "::lifeline progress 0.5 mid"; echo "::lifeline checkpoint got-$LIFELINE_CHECKPOINT"', 'exit 3'], { fromStage: 1, checkpoint: 'c1' }));
    const exit = await done;
    assert.equal(exit.exitCode, 3);
    assert.deepEqual(
      events.map((event) => event.type),
      ['started', 'stageStarted', 'progress', 'checkpoint', 'stageFinished', 'stageStarted', 'stageFinished', 'exited'],
    );
    assert.deepEqual(events.find((event) => event.type === 'checkpoint'), { type: 'checkpoint', jobId: 'j', attempt: 1, checkpoint: 'got-c1' });
    assert.doesNotMatch(readFileSync(join(dir, 'logs', 'j.log'), 'utf8'), /one/);
  });

  it('kills the whole process group, grandchildren included', async () => {
    const pidFile = join(dir, 'grandchild.pid');
    const done = exited('k');
    runner.start(request('k', [`sleep 30 & echo $! > ${pidFile}; wait`]));
    while (!events.some((event) => event.type === 'started')) await new Promise((resolve) => setTimeout(resolve, 10));
    let grandchild = '';
    while (!grandchild) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      try {
        grandchild = readFileSync(pidFile, 'utf8').trim();
      } catch {
        // not written yet
      }
    }
    runner.kill('k');
    const exit = await done;
    assert.equal(exit.signal, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(isAlive(Number(grandchild)), false);
  });

  it('reports a working directory that vanished as an exit with an error', async () => {
    const done = exited('g');
    runner.start({ ...request('g', ['true']), stages: [{ name: 's', command: 'true', cwd: join(dir, 'gone'), outputs: [] }] });
    const exit = await done;
    assert.match(exit.error ?? '', /could not start/);
  });
});
