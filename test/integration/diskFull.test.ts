import * as assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { Job } from '../../src/core/queue/jobModel';
import type { LifelineApi, LifelineQueueApi, LifelineTestingApi } from '../../src/extension';
import type { StorageNotice } from '../../src/shared/queuePanelProtocol';
import { QueueTreeProvider } from '../../src/vscode/queueTreeProvider';

/**
 * Issue 16: a full disk while a job runs. The disk is "filled" through the extension's test-only
 * switch (LIFELINE_TEST_STORAGE_FAULTS, src/vscode/testStorageFaults.ts): every write of the stores
 * fails with ENOSPC and the low-disk monitor sees 0 bytes free. Every wait is on a real event: a
 * durable change of the queue, a command's answer.
 */
describe('disk full (in a real extension host)', () => {
  let testing: LifelineTestingApi | undefined;
  afterEach(() => testing?.setDiskFull(false));

  async function open(): Promise<{ q: LifelineQueueApi; testing: LifelineTestingApi }> {
    const extension = vscode.extensions.getExtension<LifelineApi>('lifeline.lifeline');
    assert.ok(extension);
    const api = await extension.activate();
    const q = await api.whenQueueReady();
    assert.ok(q);
    assert.ok(api.testing, 'the integration host turns on the test-only switch');
    return { q, testing: api.testing };
  }

  function waitForJob(q: LifelineQueueApi, jobId: string, done: (job: Job) => boolean, what: string): Promise<Job> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        subscription.dispose();
        reject(new Error(`timed out waiting for ${what}; the job is ${JSON.stringify(q.getJob(jobId))}`));
      }, 45_000);
      const check = (): void => {
        const job = q.getJob(jobId);
        if (!job || !done(job)) return;
        subscription.dispose();
        clearTimeout(timer);
        resolve(job);
      };
      const subscription = q.onDidChange(check);
      check();
    });
  }

  it('a job runs while the disk is full; after space returns the next command succeeds without a reload, nothing acknowledged is lost, and the job ends with its own result', async () => {
    const opened = await open();
    const q = opened.q;
    testing = opened.testing;
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    assert.ok(folder);
    const release = join(folder, 'disk-full-release');
    rmSync(release, { force: true });

    // The job waits for the test's word, so that it is running all through the full disk; it
    // exits 3, a result no interruption or retry could make up.
    const { jobId } = await q.execute({
      type: 'enqueue',
      definition: { name: 'runs through a full disk', command: 'while [ ! -f disk-full-release ]; do sleep 0.1; done; echo done; exit 3' },
    });
    assert.ok(jobId);
    const running = await waitForJob(q, jobId, (job) => job.state === 'running' && job.pid !== undefined, 'the job to run');
    const acknowledged = q.jobs.map((job) => job.id);

    testing.setDiskFull(true);
    await assert.rejects(
      q.execute({ type: 'enqueue', definition: { name: 'refused while full', command: 'true' } }),
      'a change that cannot be saved is refused, not acknowledged',
    );
    assert.equal(testing.storageHealth?.state, 'notSaving');
    const notSaving = testing.storageNotices.find((notice) => notice.kind === 'notSaving');
    assert.ok(notSaving, 'the Queue view and the dashboard say the queue is not saving');
    assert.match(notSaving.title, /^Not saving: .*ENOSPC/);
    assert.equal(q.getJob(jobId)?.state, 'running', 'the running job is untouched');

    testing.setDiskFull(false);
    // What the Retry of the view and the notification runs: checks the disk and saves.
    await vscode.commands.executeCommand('lifeline.retrySaving');
    assert.equal(testing.storageHealth?.state, 'saved');
    assert.deepEqual(testing.storageNotices, [], 'the notices clear once a save succeeds and the disk has room');

    const after = await q.execute({ type: 'enqueue', definition: { name: 'after space returns', command: 'echo after' } });
    assert.ok(after.jobId, 'the next command succeeds without a reload');
    const afterJob = await waitForJob(q, after.jobId, (job) => job.state === 'succeeded' || job.state === 'failed', 'the next job');
    assert.equal(afterJob.state, 'succeeded', 'new jobs start again once space returns');

    writeFileSync(release, '');
    const ended = await waitForJob(q, jobId, (job) => job.state !== 'running', 'the job to end');
    assert.equal(ended.state, 'failed');
    assert.equal(ended.result?.exitCode, 3, 'the job ends with its own exit code');
    assert.equal(ended.attempts, running.attempts, 'it ran once, through the full disk');

    for (const id of acknowledged) assert.ok(q.getJob(id), `acknowledged job ${id} is still in the queue`);
    assert.ok(!q.jobs.some((job) => job.name === 'refused while full'), 'the refused change was not applied');
    assert.ok(existsSync(release));
    rmSync(release, { force: true });
  });

  it('the Queue view lists a "Not saving" row above the jobs, with Retry, and drops it when saving works again', async () => {
    const emitter = new vscode.EventEmitter<void>();
    const source = { jobs: [] as Job[], storageNotices: [] as StorageNotice[], onDidChange: emitter.event };
    const queueView = new QueueTreeProvider({ notices: true });
    const recoveryView = new QueueTreeProvider({ filter: (job) => job.state === 'interrupted' });
    try {
      queueView.attach(source);
      recoveryView.attach(source);
      assert.deepEqual(queueView.getChildren(), []);
      const redrawn = new Promise<unknown>((resolve) => {
        const subscription = queueView.onDidChangeTreeData((change) => {
          subscription.dispose();
          resolve(change);
        });
      });
      source.storageNotices = [
        { kind: 'notSaving', title: 'Not saving: the disk is full (ENOSPC)', detail: 'Free space, then Retry.', retry: true },
      ];
      emitter.fire();
      assert.equal(await redrawn, undefined, 'a notice that comes redraws the whole view');
      const [row] = queueView.getChildren();
      assert.equal(row?.kind, 'notice');
      const item = queueView.getTreeItem(row);
      assert.equal(item.label, 'Not saving: the disk is full (ENOSPC)');
      assert.equal(item.command?.command, 'lifeline.retrySaving');
      assert.equal(item.contextValue, 'lifeline.notice.notSaving');
      assert.deepEqual(recoveryView.getChildren(), [], 'only the Queue view lists notices');
      source.storageNotices = [];
      emitter.fire();
      assert.deepEqual(queueView.getChildren(), []);
    } finally {
      queueView.dispose();
      recoveryView.dispose();
      emitter.dispose();
    }
  });
});
