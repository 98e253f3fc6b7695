import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunEvent, RunRequest } from '../../../src/core/queue/jobRunner';
import { parseJobLine } from '../../../src/shared/supervisor/jobLine';
import { ProcessRunner } from '../../../src/core/queue/processRunner';
import { nextExit, runRequest } from '../runnerTestKit';

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

  const exited = (jobId: string) => nextExit(runner, jobId);
  const request = (jobId: string, commands: string[], extra: Partial<RunRequest> = {}): RunRequest =>
    runRequest(dir, jobId, commands, extra);

  it('parses the progress and checkpoint line protocol', () => {
    assert.deepEqual(parseJobLine('::lifeline progress 42 Rendering frames'), {
      kind: 'progress',
      fraction: 0.42,
      message: 'Rendering frames',
    });
    assert.deepEqual(parseJobLine('::lifeline progress 50% half way'), { kind: 'progress', fraction: 0.5, message: 'half way' });
    assert.deepEqual(parseJobLine('::lifeline progress 0.5'), { kind: 'progress', fraction: 0.005, message: undefined });
    assert.deepEqual(parseJobLine('::lifeline progress 700'), { kind: 'progress', fraction: 1, message: undefined }, 'clamped above');
    assert.deepEqual(parseJobLine('::lifeline progress -3 back'), { kind: 'progress', fraction: 0, message: 'back' }, 'clamped below');
    assert.deepEqual(parseJobLine('::lifeline checkpoint {"frame":120}'), { kind: 'checkpoint', checkpoint: '{"frame":120}' });
    assert.deepEqual(parseJobLine('::lifeline checkpoint  two  spaces '), { kind: 'checkpoint', checkpoint: ' two  spaces ' });
    for (const line of [
      'hello',
      '::lifeline progress',
      '::lifeline progress half',
      '::lifeline progress % x',
      '::lifeline progress NaN',
      '::lifeline progress Infinity',
      '::lifeline checkpoint',
      '::lifeline bogus 1',
      ' ::lifeline progress 5',
    ]) {
      assert.equal(parseJobLine(line), undefined, `${JSON.stringify(line)} is ordinary output`);
    }
  });

  it('runs stages in order from the given one, reports progress and checkpoints, and hands the checkpoint in', async () => {
    const done = exited('j');
    runner.start(
      request(
        'j',
        [
          'echo one',
          'echo "::lifeline progress oops"; echo "::lifeline progress 50 mid"; echo "::lifeline checkpoint got-$LIFELINE_CHECKPOINT"',
          'exit 3',
        ],
        { fromStage: 1, checkpoint: 'c1' },
      ),
    );
    const exit = await done;
    assert.equal(exit.exitCode, 3);
    assert.deepEqual(
      events.map((event) => event.type),
      ['started', 'stageStarted', 'progress', 'checkpoint', 'stageFinished', 'stageStarted', 'stageFinished', 'exited'],
    );
    assert.deepEqual(
      events.find((event) => event.type === 'progress'),
      { type: 'progress', jobId: 'j', attempt: 1, fraction: 0.5, message: 'mid' },
    );
    assert.deepEqual(
      events.find((event) => event.type === 'checkpoint'),
      { type: 'checkpoint', jobId: 'j', attempt: 1, checkpoint: 'got-c1' },
    );
    assert.doesNotMatch(readFileSync(join(dir, 'logs', 'j.log'), 'utf8'), /one/);
  });

  it('offers LIFELINE_CHECKPOINT_FILE and LIFELINE_RESUME as supervisors do; the file read as the stage exits is a checkpoint', async () => {
    const done = exited('f');
    runner.start(
      request('f', ['printf "$LIFELINE_RESUME-next\\n" > "$LIFELINE_CHECKPOINT_FILE"', 'printf c2 > "$LIFELINE_CHECKPOINT_FILE"'], {
        checkpoint: 'c1',
      }),
    );
    assert.equal((await done).exitCode, 0);
    assert.deepEqual(
      events.map((event) => (event.type === 'checkpoint' ? `checkpoint ${event.checkpoint}` : event.type)),
      ['started', 'stageStarted', 'checkpoint c1-next', 'stageFinished', 'stageStarted', 'checkpoint c2', 'stageFinished', 'exited'],
    );
  });

  it('a stop is SIGTERM first: a job that traps it cleans up; one that ignores it is killed with its tree after the grace', async () => {
    const waitFor = async (path: string): Promise<void> => {
      while (!existsSync(path) || readFileSync(path, 'utf8').trim() === '') await new Promise((resolve) => setTimeout(resolve, 10));
    };
    const tidy = exited('tidy');
    runner.start(runRequest(dir, 'tidy', [`trap 'echo cleaned > tidy.mark; exit 3' TERM; echo $$ > tidy.pid; sleep 1000 & wait`]));
    await waitFor(join(dir, 'tidy.pid'));
    runner.kill('tidy');
    assert.equal((await tidy).exitCode, 3);
    assert.equal(readFileSync(join(dir, 'tidy.mark'), 'utf8').trim(), 'cleaned');

    const stubborn = exited('stubborn');
    // Its own grace (a stage's killGraceMs) rather than the runner's 10 s.
    const request = runRequest(dir, 'stubborn', [
      `trap 'echo term > stubborn.mark' TERM; (trap '' TERM; exec sleep 1000) & echo $! > stubborn.pid; while :; do sleep 0.05; done`,
    ]);
    runner.start({ ...request, stages: request.stages.map((stage) => ({ ...stage, killGraceMs: 300 })) });
    await waitFor(join(dir, 'stubborn.pid'));
    const child = Number(readFileSync(join(dir, 'stubborn.pid'), 'utf8').trim());
    runner.kill('stubborn');
    await waitFor(join(dir, 'stubborn.mark'));
    assert.equal(isAlive(child), true, 'SIGTERM alone stopped nothing');
    assert.equal((await stubborn).signal, 'SIGKILL');
    while (isAlive(child)) await new Promise((resolve) => setTimeout(resolve, 10));
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
    // A stop starts with SIGTERM, which this shell does not trap.
    assert.equal(exit.signal, 'SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(isAlive(Number(grandchild)), false);
  });

  it('reports a working directory that vanished as an exit with an error', async () => {
    const done = exited('g');
    runner.start({ ...request('g', ['true']), stages: [{ name: 's', command: 'true', cwd: join(dir, 'gone'), outputs: [] }] });
    const exit = await done;
    assert.match(exit.error ?? '', /could not start/);
  });

  it('forget deletes the log and checkpoint file of jobs that left the queue, and no others', async () => {
    for (const jobId of ['gone', 'stays']) {
      const done = exited(jobId);
      runner.start(request(jobId, ['echo out; printf cp > "$LIFELINE_CHECKPOINT_FILE"']));
      await done;
    }
    const files = (jobId: string) => [`${jobId}.log`, `${jobId}.checkpoint`].map((name) => existsSync(join(dir, 'logs', name)));
    assert.deepEqual([...files('gone'), ...files('stays')], [true, true, true, true]);
    await runner.forget(['gone', 'never-ran']);
    assert.deepEqual([...files('gone'), ...files('stays')], [false, false, true, true]);
  });
});
