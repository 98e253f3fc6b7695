import * as assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Job } from '../../../src/core/queue/jobModel';
import { readLease } from '../../../src/core/session/lease';
import { DrivenProcess, isAlive } from '../drivenProcess';

/** One queue process under test (fixtures/queueProcess.ts). */
class QueueProcess extends DrivenProcess {
  static start(storageDir: string, label: string, options: { staleAfterMs?: number } = {}): QueueProcess {
    const config = { storageDir, label, heartbeatMs: 100, staleAfterMs: options.staleAfterMs ?? 1500 };
    return new QueueProcess(label, DrivenProcess.spawnScript(join(__dirname, 'fixtures', 'queueProcess.js'), config));
  }

  role(): Promise<string> {
    return this.next((m) => m.ev === 'role' && m.role !== 'connecting').then((m) => m.role as string);
  }

  async jobs(): Promise<{ role: string; jobs: Job[] }> {
    return (await this.request('jobs', 'jobs')) as unknown as { role: string; jobs: Job[] };
  }

  stop(): Promise<void> {
    return this.kill();
  }
}

const waitUntil = async (condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> => {
  const start = Date.now();
  while (!(await condition())) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe('jobs: one writer, many clients (separate processes)', function () {
  this.timeout(60_000);
  let dir: string;
  let processes: QueueProcess[];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-procs-'));
    processes = [];
  });
  afterEach(async () => {
    for (const p of processes) {
      p.child.stdin?.end();
      await p.stop();
    }
    // The last holder was killed: nobody took over to remove its socket.
    const lease = await readLease(dir);
    if (lease?.socketPath) rmSync(lease.socketPath, { force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  const start = (label: string, options?: { staleAfterMs?: number }): QueueProcess => {
    const p = QueueProcess.start(dir, label, options);
    processes.push(p);
    return p;
  };

  it('started together, exactly one schedules; the client enqueues, reorders and cancels through it', async () => {
    const a = start('A');
    const b = start('B');
    const roles = [await a.role(), await b.role()].sort();
    assert.deepEqual(roles, ['client', 'holder']);
    const [holder, client] = (await a.role()) === 'holder' ? [a, b] : [b, a];
    await client.exec({ type: 'setPaused', paused: true });
    const ran = join(dir, 'ran.txt');
    const ids: string[] = [];
    for (const [i, p] of [client, holder, client, holder].entries()) {
      const reply = await p.exec({ type: 'enqueue', definition: { name: `j${i}`, command: `echo "$LIFELINE_TEST_HOLDER" >> ${ran}` } });
      assert.equal(reply.ok, true, JSON.stringify(reply));
      ids.push((reply.result as { jobId: string }).jobId);
    }
    assert.equal((await client.exec({ type: 'move', jobId: ids[3], before: ids[0] })).ok, true);
    assert.equal((await client.exec({ type: 'cancel', jobId: ids[1] })).ok, true);
    const view = await holder.jobs();
    assert.deepEqual(
      view.jobs.map((job) => [job.name, job.state]),
      [
        ['j3', 'queued'],
        ['j0', 'queued'],
        ['j1', 'cancelled'],
        ['j2', 'queued'],
      ],
    );
    await client.exec({ type: 'setPaused', paused: false });
    await waitUntil(async () => (await client.jobs()).jobs.filter((job) => job.state === 'succeeded').length === 3);
    const lines = readFileSync(ran, 'utf8').trim().split('\n');
    assert.deepEqual(lines, [holder.label, holder.label, holder.label]);
  });

  it('after SIGKILL of the holder, the client takes over in time and no acknowledged command is lost or applied twice', async () => {
    // A stale limit far above the dead-pid path: taking over before it proves the dead pid was seen.
    const holder = start('H', { staleAfterMs: 10_000 });
    assert.equal(await holder.role(), 'holder');
    const client = start('C', { staleAfterMs: 10_000 });
    assert.equal(await client.role(), 'client');
    await client.exec({ type: 'setPaused', paused: true });
    const total = 150;
    const commandIds = Array.from({ length: total }, () => randomUUID());
    const replies = commandIds.map((commandId, i) =>
      client.exec({ type: 'enqueue', definition: { name: `n${i}`, command: 'true' } }, commandId),
    );
    // Kill the holder while commands are in flight.
    await client.next((m) => m.ev === 'result' && m.commandId === commandIds[20]);
    holder.child.kill('SIGKILL');
    const killedAt = Date.now();
    const taken = await client.next((m) => m.ev === 'role' && m.role === 'holder');
    assert.ok(
      (taken.at as number) - killedAt < 10_000,
      `took over after ${(taken.at as number) - killedAt} ms, not before the stale limit`,
    );
    const results = await Promise.all(replies);
    assert.ok(results.every((r) => r.ok === true));
    const { jobs } = await client.jobs();
    const names = jobs.map((job) => job.name).sort();
    assert.deepEqual(names, Array.from({ length: total }, (_, i) => `n${i}`).sort(), 'each command exactly once');
    // A third process, opened on the same folder after all that, sees the same queue.
    const third = start('T');
    assert.equal(await third.role(), 'client');
    assert.equal((await third.jobs()).jobs.length, total);
  });

  it('after SIGKILL of the holder, the new holder stops the orphaned job process group and marks the job interrupted', async () => {
    // A stale limit far above the dead-pid path: taking over before it proves the dead pid was seen.
    const holder = start('H', { staleAfterMs: 10_000 });
    assert.equal(await holder.role(), 'holder');
    const client = start('C', { staleAfterMs: 10_000 });
    assert.equal(await client.role(), 'client');
    const { result } = await client.exec({ type: 'enqueue', definition: { name: 'long', command: 'sleep 30' } });
    const jobId = (result as { jobId: string }).jobId;
    let pid: number | undefined;
    await waitUntil(async () => {
      pid = (await client.jobs()).jobs.find((job) => job.id === jobId)?.process?.pid;
      return pid !== undefined;
    });
    assert.equal(isAlive(pid as number), true);
    holder.child.kill('SIGKILL');
    await client.next((m) => m.ev === 'role' && m.role === 'holder');
    const job = (await client.jobs()).jobs.find((j) => j.id === jobId);
    assert.equal(job?.state, 'interrupted');
    await waitUntil(async () => !isAlive(pid as number), 2000);
  });

  it('a frozen holder is replaced after the stale limit, and when it wakes it steps down without writing', async () => {
    const holder = start('H', { staleAfterMs: 1000 });
    assert.equal(await holder.role(), 'holder');
    const client = start('C', { staleAfterMs: 1000 });
    assert.equal(await client.role(), 'client');
    await client.exec({ type: 'setPaused', paused: true });
    await client.exec({ type: 'enqueue', definition: { name: 'before', command: 'true' } });
    holder.child.kill('SIGSTOP');
    const stoppedAt = Date.now();
    const taken = await client.next((m) => m.ev === 'role' && m.role === 'holder');
    const after = (taken.at as number) - stoppedAt;
    // Not before the stale limit (less a little for the two processes' clocks); how soon after it
    // depends on the machine's load, so only the mocha timeout bounds it.
    assert.ok(after >= 900, `took over after ${after} ms, before the stale limit`);
    await client.exec({ type: 'enqueue', definition: { name: 'during', command: 'true' } });
    holder.child.kill('SIGCONT');
    await holder.next((m) => m.ev === 'role' && m.role === 'client');
    assert.equal((await holder.exec({ type: 'enqueue', definition: { name: 'after', command: 'true' } })).ok, true);
    const third = start('T');
    assert.equal(await third.role(), 'client');
    assert.deepEqual(
      (await third.jobs()).jobs.map((job) => job.name),
      ['before', 'during', 'after'],
    );
  });

  it('a graceful release hands over without waiting for the stale timeout', async () => {
    const holder = start('H', { staleAfterMs: 15_000 });
    assert.equal(await holder.role(), 'holder');
    const client = start('C', { staleAfterMs: 15_000 });
    assert.equal(await client.role(), 'client');
    await client.exec({ type: 'setPaused', paused: true });
    await client.exec({ type: 'enqueue', definition: { name: 'survivor', command: 'true' } });
    const releasedAt = Date.now();
    holder.send({ op: 'dispose' });
    const taken = await client.next((m) => m.ev === 'role' && m.role === 'holder');
    assert.ok(
      (taken.at as number) - releasedAt < 15_000,
      `handover took ${(taken.at as number) - releasedAt} ms: it waited for the stale limit`,
    );
    assert.deepEqual(
      (await client.jobs()).jobs.map((job) => job.name),
      ['survivor'],
    );
  });
});
