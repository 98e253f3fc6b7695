import * as assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { statusSchema } from '../../../src/core/control/jobView';
import { writeTrustRecord } from '../../../src/core/control/workspaceTrust';
import { until } from '../runtime/runtimeTestKit';
import { useStoreFolders } from '../storeCli/storeCliTestKit';
import { runLifeline, spawnLifeline } from './cliTestKit';

describe('lifeline (the terminal command)', function () {
  this.timeout(60_000);
  const folders = useStoreFolders();

  beforeEach(async () => {
    await writeTrustRecord(folders().storage, true);
  });

  it('with no window open: add runs the job in a supervisor, wait exits with its exit code, and the next holder sees it and records it in the history', async () => {
    const added = await runLifeline(folders(), ['add', 'echo from-the-terminal; sleep 0.3; exit 3']);
    assert.equal(added.status, 0, added.stderr);
    const id = added.stdout.trim();
    assert.match(id, /^[0-9a-f-]{36}$/);
    const waited = await runLifeline(folders(), ['wait', id]);
    assert.equal(waited.status, 3, `wait mirrors the job's exit code: ${waited.stdout}${waited.stderr}`);
    assert.match(waited.stdout, /Failed \(exit 3/);
    const log = await runLifeline(folders(), ['log', id.slice(0, 8)]);
    assert.equal(log.stdout, 'from-the-terminal\n');

    // The window that opens next: the job with its exit code and times, and its history entry.
    const runtime = await folders().openRuntime();
    const job = runtime.queue.getJob(id);
    assert.equal(job?.state, 'failed');
    assert.equal(job?.result?.exitCode, 3);
    assert.ok(job?.startedAt !== undefined && job.finishedAt !== undefined && job.finishedAt >= job.startedAt);
    await runtime.history.whenOpen();
    const entries = () => runtime.history.history?.page({ limit: 10 }).entries ?? [];
    // A history entry's id is the job's and the time it finished: each run of a job is its own entry.
    const recorded = () => entries().find((entry) => entry.jobId.startsWith(`${id}@`));
    await until(runtime.history.onDidChange, () => recorded() !== undefined, 'the history entry of the job');
    assert.equal(recorded()?.exitCode, 3);
  });

  it('is a client of the process that holds the queue: the job lands in its queue, its commands carry the terminal origin, and it never takes the lease', async () => {
    const runtime = await folders().openRuntime();
    const added = await runLifeline(folders(), ['add', '--label', 'from cli', '--priority', '5', '--tag', 'ci', 'exit 0']);
    assert.equal(added.status, 0, added.stderr);
    const id = added.stdout.trim();
    const job = runtime.queue.getJob(id);
    assert.equal(job?.name, 'from cli');
    assert.equal(job?.priority, 5);
    assert.deepEqual(job?.tags, ['ci']);
    assert.equal(runtime.queue.role, 'holder', 'the window kept the lease');
    const recent = await runtime.services.audit?.recent(10);
    const entry = recent?.find((record) => record.jobId === id && record.action === 'enqueue');
    assert.equal(entry?.origin?.kind, 'terminal');
    const status = await runLifeline(folders(), ['status']);
    assert.match(status.stdout, /held by VS Code/);
  });

  it('status --json validates against its versioned schema', async () => {
    await runLifeline(folders(), ['add', '--delay', '1h', 'echo later']);
    await runLifeline(folders(), ['add', '--wait', 'echo now']);
    const status = await runLifeline(folders(), ['status', '--json']);
    assert.equal(status.status, 0, status.stderr);
    const parsed = statusSchema.parse(JSON.parse(status.stdout));
    assert.equal(parsed.schemaVersion, 1);
    assert.deepEqual(parsed.jobs.map((job) => job.state).sort(), ['delayed', 'succeeded']);
    const delayed = parsed.jobs.find((job) => job.state === 'delayed');
    assert.ok(delayed?.startsAt && Date.parse(delayed.startsAt) > Date.now() + 3_500_000);
  });

  it('follow prints the output as it is written, before the job ends, without Lifeline protocol lines', async () => {
    const gate = join(folders().root, 'gate');
    const script = `echo first; echo '::lifeline progress 0.5'; while [ ! -e '${gate}' ]; do sleep 0.05; done; echo second; exit 4`;
    const id = (await runLifeline(folders(), ['add', script])).stdout.trim();
    const follow = spawnLifeline(folders(), ['follow', id]);
    let out = '';
    const exited = new Promise<number | null>((resolve) => follow.on('close', resolve));
    await new Promise<void>((resolve, reject) => {
      follow.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        // The job cannot end before the gate exists: "first" must have come while it ran.
        if (out.includes('first') && !existsSync(gate)) {
          writeFileSync(gate, '');
          resolve();
        }
      });
      follow.on('close', () => reject(new Error(`follow ended before printing "first": ${out}`)));
    });
    assert.equal(await exited, 4, 'follow ends with the job and mirrors its exit code');
    assert.equal(out, 'first\nsecond\n');
  });

  it('refuses bad input with a specific message and a usage status, and queues nothing', async () => {
    const cases: [string[], number, RegExp][] = [
      [['frobnicate'], 2, /unknown command "frobnicate"/],
      [['add'], 2, /Nothing to add/],
      [['add', '--priority', 'high', 'true'], 2, /--priority takes a whole number/],
      [['add', '--delay', 'soon', 'true'], 2, /--delay takes a duration/],
      [['add', '--bogus', 'true'], 2, /Unknown option '--bogus'/],
      [['add', '--job', 'nope'], 2, /No job named "nope"/],
      [['add', '--job', 'x', 'true'], 2, /either --job NAME or a command/],
      [['add', '--cwd', 'missing-folder', 'true'], 2, /missing-folder/],
      [['wait', 'ffffffff'], 4, /No job ffffffff/],
      [['wait'], 2, /Which jobs/],
      [['log', 'ab'], 2, /too short/],
    ];
    for (const [args, status, message] of cases) {
      const run = await runLifeline(folders(), args);
      assert.equal(run.status, status, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message, args.join(' '));
      assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
    }
    const status = await runLifeline(folders(), ['status', '--json']);
    assert.deepEqual(JSON.parse(status.stdout).jobs, []);
  });

  it('opens nothing in a workspace VS Code does not trust, and says why', async () => {
    await writeTrustRecord(folders().storage, false);
    for (const args of [['add', 'echo hi'], ['status']]) {
      const run = await runLifeline(folders(), args);
      assert.equal(run.status, 69, args.join(' '));
      assert.match(run.stderr, /not trusted/);
    }
    // Holding the queue would run it: not even the queue's folder or the lease was created.
    assert.equal(existsSync(join(folders().storage, 'queue')), false);
    assert.equal(existsSync(join(folders().storage, 'queue.lease')), false);
  });

  it('says where it looked when Lifeline has no queue for the folder', async () => {
    const run = await runLifeline({ ...folders(), workspace: folders().root }, ['status']);
    assert.equal(run.status, 69);
    assert.match(run.stderr, /has no queue for/);
  });

  it('wait --timeout gives up with 124 and leaves the job running; cancel stops it', async () => {
    const id = (await runLifeline(folders(), ['add', 'sleep 30'])).stdout.trim();
    const waited = await runLifeline(folders(), ['wait', '--timeout', '300ms', id]);
    assert.equal(waited.status, 124, waited.stderr);
    const cancelled = await runLifeline(folders(), ['cancel', id]);
    assert.equal(cancelled.status, 0, cancelled.stderr);
    const after = await runLifeline(folders(), ['wait', id]);
    assert.equal(after.status, 130, 'a cancelled job waits out as 130');
  });
});
