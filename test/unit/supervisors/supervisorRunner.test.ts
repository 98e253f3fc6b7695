import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunEvent, RunRequest } from '../../../src/core/queue/jobRunner';
import { SupervisorConnection } from '../../../src/core/supervisors/supervisorConnection';
import { jobFilePaths } from '../../../src/shared/supervisor/node/jobFilePaths';
import { SupervisorRunner } from '../../../src/core/supervisors/supervisorRunner';
import { isAlive } from '../drivenProcess';
import { jobRecords, killSupervisorsOf, supervisorScript, waitUntil } from './supervisorTestKit';
import { nextExit, runRequest } from '../runnerTestKit';

describe('supervisor: runner and process trees', function () {
  this.timeout(20_000);
  let dir: string;
  let jobsDir: string;
  let runner: SupervisorRunner;
  let events: RunEvent[];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-suprun-'));
    jobsDir = join(dir, 'jobs');
    runner = new SupervisorRunner({ jobsDir, supervisorScript, heartbeatMs: 200, pollMs: 50, idleExitMs: 1000 });
    events = [];
    runner.onDidRun((event) => events.push(event));
  });
  afterEach(async () => {
    await runner.dispose();
    killSupervisorsOf(jobsDir);
    rmSync(dir, { recursive: true, force: true });
  });

  const exited = (jobId: string) => nextExit(runner, jobId);
  const request = (jobId: string, commands: string[], extra: Partial<RunRequest> = {}): RunRequest =>
    runRequest(dir, jobId, commands, extra);

  it('runs stages in a supervisor, journals every event and hands the checkpoint in', async () => {
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
    const started = events.find((event) => event.type === 'started');
    assert.notEqual(started?.type === 'started' && started.pid, process.pid, 'a separate supervisor process ran it');
    assert.deepEqual(
      jobRecords(jobsDir, 'j')
        .map((record) => record.t)
        .filter((t) => t !== 'heartbeat'),
      ['started', 'stageStarted', 'progress', 'checkpoint', 'stageFinished', 'stageStarted', 'stageFinished', 'exited'],
    );
    assert.match(readFileSync(jobFilePaths(jobsDir, 'j', 1).logPath, 'utf8'), /::lifeline checkpoint got-c1/);
  });

  it('a job that writes LIFELINE_CHECKPOINT_FILE: each new content is a checkpoint in the journal and in the events; an oversized file is refused with a warning in the log', async () => {
    const go = join(dir, 'go');
    const done = exited('cf');
    runner.start(
      request('cf', [
        // Polled while the stage runs: the test lets it go on only once the first checkpoint is on record.
        `echo "$LIFELINE_CHECKPOINT_FILE" > where.txt; printf '{"frame":120}\\n' > "$LIFELINE_CHECKPOINT_FILE"; while [ ! -e ${go} ]; do sleep 0.02; done; printf frame-240 > "$LIFELINE_CHECKPOINT_FILE.tmp"; mv "$LIFELINE_CHECKPOINT_FILE.tmp" "$LIFELINE_CHECKPOINT_FILE"`,
        // Read once as the stage exits: too large, and then the unchanged file is no news.
        `head -c 70000 /dev/zero | tr '\\0' x > "$LIFELINE_CHECKPOINT_FILE.tmp"; mv "$LIFELINE_CHECKPOINT_FILE.tmp" "$LIFELINE_CHECKPOINT_FILE"`,
      ]),
    );
    await waitUntil(() => jobRecords(jobsDir, 'cf').some((record) => record.t === 'checkpoint'), 5000, 'the first checkpoint is on record');
    writeFileSync(go, '');
    const exit = await done;
    assert.equal(exit.exitCode, 0);
    const where = readFileSync(join(dir, 'where.txt'), 'utf8').trim();
    assert.equal(
      where,
      jobFilePaths(jobsDir, 'cf', 1).journalPath.replace(/\.journal$/, '.checkpoint'),
      "the file lies beside the run's journal",
    );
    const checkpoints = events.flatMap((event) => (event.type === 'checkpoint' ? [event.checkpoint] : []));
    assert.deepEqual(checkpoints, ['{"frame":120}', 'frame-240']);
    const records = jobRecords(jobsDir, 'cf').filter((record) => record.t !== 'heartbeat' && record.t !== 'started');
    assert.deepEqual(
      records.map((record) =>
        record.t === 'checkpoint'
          ? `checkpoint ${record.checkpoint}`
          : record.t === 'stageStarted' || record.t === 'stageFinished'
            ? `${record.t} ${record.stage}`
            : record.t,
      ),
      [
        'stageStarted 0',
        'checkpoint {"frame":120}',
        'checkpoint frame-240',
        'stageFinished 0',
        'stageStarted 1',
        'stageFinished 1',
        'exited',
      ],
    );
    assert.match(
      readFileSync(jobFilePaths(jobsDir, 'cf', 1).logPath, 'utf8'),
      /checkpoint file .* is 70000 bytes, more than the limit of 65536; it is ignored/,
    );
  });

  it('reuses the supervisor of a finished job for the next one', async () => {
    await runner.dispose();
    runner = new SupervisorRunner({ jobsDir, supervisorScript, heartbeatMs: 200, pollMs: 50, idleExitMs: 1000, warmSupervisors: 0 });
    runner.onDidRun((event) => events.push(event));
    const first = exited('a');
    runner.start(request('a', ['true']));
    await first;
    const second = exited('b');
    runner.start(request('b', ['true']));
    await second;
    const pids = events.filter((event) => event.type === 'started').map((event) => (event.type === 'started' ? event.pid : 0));
    assert.equal(pids.length, 2, JSON.stringify(events));
    assert.equal(pids[0], pids[1]);
  });

  it('cancel kills children and grandchildren, and the exit is recorded', async () => {
    const pidFile = join(dir, 'grandchild.pid');
    const done = exited('k');
    runner.start(request('k', [`sleep 30 & echo $! > ${pidFile}; wait`, 'echo never > never.txt']));
    let grandchild = 0;
    await waitUntil(() => {
      try {
        grandchild = Number(readFileSync(pidFile, 'utf8').trim());
      } catch {
        // not written yet
      }
      return grandchild > 0 && events.some((event) => event.type === 'stageStarted');
    });
    const stage = events.find((event) => event.type === 'stageStarted');
    runner.kill('k');
    const exit = await done;
    // A stop starts with SIGTERM, which this shell does not trap.
    assert.equal(exit.signal, 'SIGTERM');
    await waitUntil(() => !isAlive(grandchild), 2000, 'the grandchild is gone');
    if (stage?.type === 'stageStarted' && stage.process) assert.equal(isAlive(stage.process.pid), false);
    assert.equal(events.filter((event) => event.type === 'stageStarted').length, 1, 'no later stage ran');
    assert.equal(jobRecords(jobsDir, 'k').at(-1)?.t, 'exited');
  });

  const startGrandchildJob = async (jobId: string): Promise<{ grandchild: number; supervisor: number }> => {
    const pidFile = join(dir, `${jobId}.pid`);
    runner.start(request(jobId, [`sleep 30 & echo $! > ${pidFile}; wait`]));
    let grandchild = 0;
    await waitUntil(() => {
      try {
        grandchild = Number(readFileSync(pidFile, 'utf8').trim());
      } catch {
        // not written yet
      }
      return grandchild > 0 && events.some((event) => event.type === 'stageStarted' && event.jobId === jobId);
    });
    const started = events.find((event) => event.type === 'started' && event.jobId === jobId);
    return { grandchild, supervisor: started?.type === 'started' ? (started.pid as number) : 0 };
  };

  it('a supervisor killed under a watching host: its job ends interrupted (not failed), with what its journal recorded, and its process group is stopped', async () => {
    const done = exited('lost');
    const { grandchild, supervisor } = await startGrandchildJob('lost');
    process.kill(supervisor, 'SIGKILL');
    const exit = await done;
    assert.equal(exit.interrupted, true);
    assert.equal(exit.exitCode, null);
    assert.match(exit.error ?? '', /supervisor stopped without recording an exit/);
    assert.deepEqual(runner.recover({ jobId: 'lost', attempt: 1 }), { stage: 0, checkpoint: undefined, succeededStages: [] });
    await waitUntil(() => !isAlive(grandchild), 2000, 'the orphaned group is gone');
  });

  it("a supervisor that dies as soon as its first stage is in its journal, perhaps before it answered: the job ends interrupted and the stage's group is stopped", async () => {
    // The supervisor starts the first stage before `started` is on disk and before it answers
    // `accepted`; it writes the stage's identity into the journal's file right after the spawn.
    const pidFile = join(dir, 'early.pid');
    const { journalPath } = jobFilePaths(jobsDir, 'early', 1);
    const done = exited('early');
    runner.start(
      request('early', [`sleep 30 & echo $! > ${pidFile}; until grep -qa stageStarted ${journalPath}; do :; done; kill -9 $PPID; wait`]),
    );
    const exit = await done;
    assert.equal(exit.interrupted, true);
    assert.match(exit.error ?? '', /supervisor stopped without recording an exit/);
    const sleeper = Number(readFileSync(pidFile, 'utf8'));
    await waitUntil(() => !isAlive(sleeper), 2000, 'the orphaned group is gone');
  });

  it('adopt: refuses a job whose supervisor died with no exit record, after stopping its process group; takes one that lives', async () => {
    const { grandchild, supervisor } = await startGrandchildJob('orphan');
    const live = await startGrandchildJob('live');
    await runner.dispose(); // the host goes; both jobs keep running
    assert.equal(isAlive(grandchild), true);
    process.kill(supervisor, 'SIGKILL');
    await waitUntil(() => !isAlive(supervisor), 2000);
    runner = new SupervisorRunner({ jobsDir, supervisorScript, heartbeatMs: 200, pollMs: 50, idleExitMs: 1000, warmSupervisors: 0 });
    events = [];
    runner.onDidRun((event) => events.push(event));
    assert.equal(runner.adopt({ jobId: 'orphan', attempt: 1, pid: supervisor }), false);
    await waitUntil(() => !isAlive(grandchild), 2000, 'the orphaned group is gone');
    assert.equal(runner.adopt({ jobId: 'live', attempt: 1, pid: live.supervisor }), true);
    const done = exited('live');
    await waitUntil(
      () => events.some((event) => event.type === 'stageStarted' && event.jobId === 'live'),
      2000,
      'the journal was replayed',
    );
    runner.kill('live');
    assert.equal((await done).signal, 'SIGTERM');
    assert.equal(isAlive(live.grandchild), false);
  });

  it('start: an attempt that is running already (its start record lost from the queue) is followed, never run a second time beside it', async () => {
    const marks = join(dir, 'marks.txt');
    const go = join(dir, 'go');
    const command = `echo start >> ${marks}; while [ ! -e ${go} ]; do sleep 0.02; done; echo end >> ${marks}`;
    const first = exited('again');
    runner.start(request('again', [command]));
    await waitUntil(() => events.some((event) => event.type === 'stageStarted'), 5000, 'the first run is going');
    // The next holder's queue came back with the attempt before, so it starts attempt 1 again.
    await runner.dispose();
    void first;
    runner = new SupervisorRunner({ jobsDir, supervisorScript, heartbeatMs: 200, pollMs: 50, idleExitMs: 1000, warmSupervisors: 0 });
    events = [];
    runner.onDidRun((event) => events.push(event));
    const done = exited('again');
    runner.start(request('again', [command]));
    await waitUntil(() => events.some((event) => event.type === 'stageStarted'), 5000, 'the live run is followed');
    writeFileSync(go, '');
    const exit = await done;
    assert.equal(exit.exitCode, 0);
    assert.deepEqual(readFileSync(marks, 'utf8').trim().split('\n'), ['start', 'end'], 'the stage ran once');
    assert.deepEqual(
      events.map((event) => event.type),
      ['started', 'stageStarted', 'stageFinished', 'exited'],
    );
  });

  it("start: an attempt whose earlier run lost its supervisor has that run's process group stopped before it starts again", async () => {
    const { grandchild, supervisor } = await startGrandchildJob('lost');
    await runner.dispose();
    process.kill(supervisor, 'SIGKILL');
    await waitUntil(() => !isAlive(supervisor), 2000);
    assert.equal(isAlive(grandchild), true, 'the stage outlived its supervisor');
    runner = new SupervisorRunner({ jobsDir, supervisorScript, heartbeatMs: 200, pollMs: 50, idleExitMs: 1000, warmSupervisors: 0 });
    events = [];
    runner.onDidRun((event) => events.push(event));
    const done = exited('lost');
    runner.start(request('lost', ['exit 0']));
    await waitUntil(() => !isAlive(grandchild), 2000, 'the orphaned group is gone');
    assert.equal((await done).exitCode, 0, 'the attempt then ran');
  });

  it('adopt: replays a run that ended with no host, but never the files of an earlier run with the same attempt number', async () => {
    const before = Date.now();
    const done = exited('ended');
    runner.start(request('ended', ['exit 5']));
    await done;
    await runner.dispose();
    runner = new SupervisorRunner({ jobsDir, supervisorScript, warmSupervisors: 0 });
    events = [];
    runner.onDidRun((event) => events.push(event));
    assert.equal(runner.adopt({ jobId: 'ended', attempt: 1, pid: undefined, startedAt: Date.now() + 1 }), false);
    const replayed = exited('ended');
    assert.equal(runner.adopt({ jobId: 'ended', attempt: 1, pid: undefined, startedAt: before }), true);
    assert.equal((await replayed).exitCode, 5);
    assert.deepEqual(
      events.map((event) => event.type),
      ['started', 'stageStarted', 'stageFinished', 'exited'],
    );
  });

  it('a supervisor with no job and no host exits by itself', async () => {
    const connection = await SupervisorConnection.spawn({ script: supervisorScript, jobsDir, idleExitMs: 200 });
    const pid = connection.hello.pid;
    assert.equal(isAlive(pid), true);
    connection.dispose();
    await waitUntil(() => !isAlive(pid), 5000, 'the idle supervisor exited');
  });
});
