import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobError } from '../../../src/core/queue/jobErrors';
import { newLease, readLease } from '../../../src/core/session/lease';
import { LEASE_FILE } from '../../../src/shared/supervisor/node/leaseFile';
import { QueueClient } from '../../../src/core/session/queueClient';
import type { QueueSessionOptions } from '../../../src/core/session/queueSession';
import { QueueSession } from '../../../src/core/session/queueSession';
import { socketPathFor } from '../../../src/core/session/socketPath';
import { FakeRunner } from '../queue/jobTestKit';

const waitFor = async (condition: () => boolean, timeoutMs = 20_000): Promise<void> => {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

describe('jobs: one writer, many clients (in one process)', () => {
  let dir: string;
  const sessions: QueueSession[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-session-'));
  });
  afterEach(async () => {
    for (const session of sessions.splice(0).reverse()) await session.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const open = async (extra: Partial<QueueSessionOptions> = {}): Promise<QueueSession> => {
    const session = await QueueSession.open({
      storageDir: dir,
      createRunner: () => new FakeRunner(),
      baseDir: dir,
      heartbeatMs: 100,
      staleAfterMs: 5000,
      ...extra,
    });
    sessions.push(session);
    return session;
  };

  it('makes the first session the holder and the second a client that commands through it', async () => {
    const holder = await open();
    const client = await open();
    assert.equal(holder.role, 'holder');
    assert.equal(client.role, 'client');
    await holder.execute({ type: 'setPaused', paused: true });
    const { jobId: a } = await client.execute({ type: 'enqueue', definition: { name: 'a', command: 'true' } });
    const { jobId: b } = await client.execute({ type: 'enqueue', definition: { name: 'b', command: 'true' } });
    await client.execute({ type: 'move', jobId: b as string, before: a as string });
    await client.execute({ type: 'cancel', jobId: a as string });
    await waitFor(() => client.getJob(a as string)?.state === 'cancelled');
    assert.deepEqual(
      holder.jobs.map((job) => [job.name, job.state]),
      [
        ['b', 'queued'],
        ['a', 'cancelled'],
      ],
    );
    assert.deepEqual(client.jobs, JSON.parse(JSON.stringify(holder.jobs)));
    await assert.rejects(client.execute({ type: 'cancel', jobId: 'nope' }), (error) => JobError.is(error, 'jobNotFound'));
  });

  it('hands over at once on release, and the new holder keeps the queue', async () => {
    const holder = await open({ staleAfterMs: 60_000 });
    const client = await open({ staleAfterMs: 60_000 });
    await client.execute({ type: 'enqueue', definition: { name: 'kept', command: 'true' } });
    const started = Date.now();
    await holder.dispose();
    await waitFor(() => client.role === 'holder');
    assert.ok(Date.now() - started < 60_000, `handover took ${Date.now() - started} ms: it waited for the stale limit`);
    assert.deepEqual(
      client.jobs.map((job) => job.name),
      ['kept'],
    );
  });

  it('takes over at once a lease whose pid is dead', async () => {
    writeFileSync(join(dir, LEASE_FILE), JSON.stringify({ ...newLease(() => '/nowhere'), pid: 2 ** 22 + 12345, hostname: hostname() }));
    const session = await open({ staleAfterMs: 60_000 });
    assert.equal(session.role, 'holder');
  });

  it('waits for a lease being released instead of becoming a client, and takes it when it stays too long', async () => {
    const releasing = { ...newLease((id) => socketPathFor(dir, id)), state: 'releasing' as const };
    writeFileSync(join(dir, LEASE_FILE), JSON.stringify(releasing));
    setTimeout(() => rmSync(join(dir, LEASE_FILE), { force: true }), 300);
    const started = Date.now();
    const first = await open({ releaseWaitMs: 3000 });
    assert.equal(first.role, 'holder');
    assert.ok(Date.now() - started >= 250);
    await first.dispose();
    writeFileSync(join(dir, LEASE_FILE), JSON.stringify(releasing));
    const second = await open({ releaseWaitMs: 200 });
    assert.equal(second.role, 'holder');
    assert.notEqual((await readLease(dir))?.activationId, releasing.activationId);
  });

  it('refuses a client with a wrong token', async () => {
    await open();
    const lease = await readLease(dir);
    await assert.rejects(QueueClient.connect(lease?.socketPath as string, 'f'.repeat(64), 500), (error) =>
      JobError.is(error, 'notConnected'),
    );
  });

  it('refuses a socket path over the platform limit, with a typed error', () => {
    assert.throws(
      () => socketPathFor(dir, 'a1b2c3d4e5f6a1b2c3d4e5f6', `/tmp/${'x'.repeat(100)}`),
      (error) => JobError.is(error, 'socketPathTooLong'),
    );
    assert.ok(
      Buffer.byteLength(socketPathFor(join(dir, 'a'.repeat(200)), 'a1b2c3d4e5f6a1b2c3d4e5f6')) <= 103,
      'the storage path length does not matter',
    );
  });
});
