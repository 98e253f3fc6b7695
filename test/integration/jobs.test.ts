import * as assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { Job } from '../../src/core/queue/jobModel';
import type { LifelineApi, LifelineQueueApi } from '../../src/extension';

const extensionId = 'lifeline.lifeline';

async function queue(): Promise<LifelineQueueApi> {
  const extension = vscode.extensions.getExtension<LifelineApi>(extensionId);
  assert.ok(extension);
  const api = await extension.activate();
  const ready = await api.whenQueueReady();
  assert.ok(ready, 'a trusted folder is open, so the queue opens');
  return ready;
}

/** Resolves with the job once `done` holds, re-checking on every durable change of the queue. */
function waitForJob(q: LifelineQueueApi, jobId: string, done: (job: Job) => boolean, what: string, timeoutMs = 45_000): Promise<Job> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      const job = q.getJob(jobId);
      if (job && done(job)) {
        subscription.dispose();
        clearTimeout(timer);
        resolve(job);
        return true;
      }
      return false;
    };
    const subscription = q.onDidChange(() => void check());
    const timer = setTimeout(() => {
      subscription.dispose();
      reject(new Error(`timed out waiting for ${what}; the job is ${JSON.stringify(q.getJob(jobId)?.state)}`));
    }, timeoutMs);
    check();
  });
}

function folder(): string {
  const first = vscode.workspace.workspaceFolders?.[0];
  assert.ok(first);
  return first.uri.fsPath;
}

describe('jobs (in a real extension host)', () => {
  it('holds the queue in this window, the only one open', async () => {
    const q = await queue();
    assert.equal(q.role, 'holder');
  });

  it('runs a three-stage pipeline through "Lifeline: Run Job" in a supervisor, each stage once, with its output logged', async () => {
    const q = await queue();
    const marks = join(folder(), 'pipeline-marks.txt');
    rmSync(marks, { force: true });
    rmSync(join(folder(), 'out-it'), { recursive: true, force: true });
    const stage = (name: string, output: string) => ({
      name,
      command: `echo "${name} $LIFELINE_STAGE $LIFELINE_JOB_ID" >> pipeline-marks.txt && mkdir -p out-it && echo ${name} > out-it/${output} && echo "stage ${name} done"`,
      outputs: [`out-it/${output}`],
    });
    const jobId = await vscode.commands.executeCommand<string>('lifeline.runJob', {
      name: 'integration pipeline',
      stages: [stage('fetch', 'a.txt'), stage('build', 'b.txt'), stage('report', 'c.txt')],
    });
    assert.ok(jobId, 'the command returns the id of the queued job');
    const job = await waitForJob(q, jobId, (j) => j.state === 'succeeded' || j.state === 'failed', 'the pipeline to finish');
    assert.equal(job.state, 'succeeded', JSON.stringify(job.result));
    assert.deepEqual(job.completedStages, ['fetch', 'build', 'report']);
    assert.deepEqual(readFileSync(marks, 'utf8').trim().split('\n'), [
      `fetch fetch ${jobId}`,
      `build build ${jobId}`,
      `report report ${jobId}`,
    ]);
    const log = q.outputLogPath(job);
    assert.ok(log && existsSync(log), 'the job has an output log');
    assert.match(readFileSync(log, 'utf8'), /stage fetch done[\s\S]*stage build done[\s\S]*stage report done/);
  });

  it('runs a job of .vscode/lifeline.json by name, picking up an edit of the file', async () => {
    const q = await queue();
    const uri = vscode.Uri.joinPath(vscode.Uri.file(folder()), '.vscode', 'lifeline.json');
    const original = await vscode.workspace.fs.readFile(uri);
    const config = JSON.parse(new TextDecoder().decode(original)) as { jobs: unknown[] };
    config.jobs.push({ name: 'Say hello', command: 'echo hello from lifeline.json' });
    await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(JSON.stringify(config, null, 2)));
    try {
      // The file watcher reads the edit; until it has, the name is unknown and nothing is queued.
      let jobId: string | undefined;
      const deadline = Date.now() + 20_000;
      while (!jobId && Date.now() < deadline) {
        jobId = await vscode.commands.executeCommand<string | undefined>('lifeline.runJob', 'Say hello');
        if (!jobId) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.ok(jobId, 'the edited definition was picked up');
      const job = await waitForJob(q, jobId, (j) => j.state === 'succeeded' || j.state === 'failed', 'the job to finish');
      assert.equal(job.state, 'succeeded');
      assert.equal(job.name, 'Say hello');
    } finally {
      await vscode.workspace.fs.writeFile(uri, original);
    }
  });

  it('shows progress lines as a percentage and keeps the last checkpoint while the job runs', async () => {
    const q = await queue();
    const jobId = await vscode.commands.executeCommand<string>(
      'lifeline.runShellCommand',
      'echo "::lifeline progress 40 rendering"; echo \'::lifeline checkpoint {"frame":120}\'; sleep 60',
    );
    assert.ok(jobId);
    const job = await waitForJob(
      q,
      jobId,
      (j) => j.state === 'running' && j.progress?.fraction !== undefined && j.checkpoint !== undefined,
      'the progress and the checkpoint',
    );
    assert.equal(job.progress?.fraction, 0.4);
    assert.equal(job.progress?.message, 'rendering');
    assert.equal(job.checkpoint, '{"frame":120}');
    await q.execute({ type: 'cancel', jobId });
    await waitForJob(q, jobId, (j) => j.state === 'cancelled', 'the job to be cancelled');
  });

  it('cancels a running job through "Lifeline: Cancel Job", stopping its process', async () => {
    const q = await queue();
    const jobId = await vscode.commands.executeCommand<string>('lifeline.runShellCommand', 'echo started; sleep 300');
    assert.ok(jobId);
    const running = await waitForJob(q, jobId, (j) => j.state === 'running' && j.pid !== undefined, 'the job to run');
    await vscode.commands.executeCommand('lifeline.cancelJob', jobId);
    const job = await waitForJob(q, jobId, (j) => j.state === 'cancelled', 'the job to be cancelled');
    assert.equal(job.state, 'cancelled');
    assert.ok(running.pid !== undefined);
  });

  it('refuses a job that could never run, and queues nothing', async () => {
    const q = await queue();
    const before = q.jobs.length;
    const jobId = await vscode.commands.executeCommand<string | undefined>('lifeline.runJob', {
      name: 'bad',
      command: 'true',
      cwd: 'no/such/folder',
    });
    assert.equal(jobId, undefined);
    assert.equal(q.jobs.length, before);
    await assert.rejects(
      q.execute({ type: 'enqueue', definition: { name: 'bad', command: 'true', cwd: 'no/such/folder' } }),
      /does not exist/,
    );
  });

  it('clears finished jobs', async () => {
    const q = await queue();
    const count = await vscode.commands.executeCommand<number>('lifeline.clearFinished');
    assert.ok(typeof count === 'number' && count >= 1, `cleared ${count}`);
    assert.ok(q.jobs.every((job) => !['succeeded', 'failed', 'cancelled'].includes(job.state)));
  });
});
