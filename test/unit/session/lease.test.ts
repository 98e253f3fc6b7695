import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { FencedQueueLog } from '../../../src/core/session/fencedQueueLog';
import { JobError } from '../../../src/core/queue/jobErrors';
import { newLease, readLease, refreshLease, takeOverLease, tryCreateLease } from '../../../src/core/session/lease';
import { LEASE_FILE, StalenessObserver } from '../../../src/shared/supervisor/node/leaseFile';
import { MemoryQueueLog } from '../../../src/core/queue/queueLog';

describe('jobs: lease', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-lease-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const lease = () => newLease((id) => `/tmp/lifeline-x-${id}.sock`);

  it('is created by one contender only, and taken over only while it stays the lease judged stale', async () => {
    const [a, b] = [lease(), lease()];
    const results = await Promise.all([tryCreateLease(dir, a), tryCreateLease(dir, b)]);
    assert.deepEqual(results.sort(), [false, true]);
    const holder = (await readLease(dir)) as ReturnType<typeof lease>;
    const judged = { ...holder };
    // The holder heartbeats after it was judged stale: the takeover must not happen.
    holder.heartbeatAt += 1000;
    assert.equal(await refreshLease(dir, holder), true);
    assert.equal(await takeOverLease(dir, judged, lease(), 5000), false);
    const c = lease();
    assert.equal(await takeOverLease(dir, holder, c, 5000), true);
    assert.equal((await readLease(dir))?.activationId, c.activationId);
    assert.equal(await refreshLease(dir, holder), false, 'the old holder learns it lost the lease');
  });

  it('judges staleness by a dead pid at once, else by a heartbeat that stops moving on its own clock', () => {
    const observer = new StalenessObserver(1000);
    const dead = { ...lease(), pid: 2 ** 22 + 4321, hostname: hostname() };
    assert.equal(observer.isStale(dead, 0), true);
    // Alive: a wall-clock heartbeat hours old (a machine that slept) is not stale by itself.
    const alive = { ...lease(), heartbeatAt: Date.now() - 3_600_000 };
    assert.equal(observer.isStale(alive, 0), false);
    assert.equal(observer.isStale(alive, 900), false);
    assert.equal(observer.isStale({ ...alive, heartbeatAt: alive.heartbeatAt + 1 }, 1500), false, 'it moved');
    assert.equal(observer.isStale({ ...alive, heartbeatAt: alive.heartbeatAt + 1 }, 2600), true);
  });

  it('treats an unreadable lease file as stale', async () => {
    writeFileSync(join(dir, LEASE_FILE), '{"version":1,"pid":');
    const read = await readLease(dir);
    assert.ok(read);
    assert.equal(new StalenessObserver(1000).isStale(read), true);
  });

  it('fences the log: no commit once the holder is no longer sure it holds the lease', async () => {
    let holder = true;
    const inner = new MemoryQueueLog();
    const log = new FencedQueueLog(inner, () => holder);
    await log.commit([{ t: 'cmd', id: 'c1', result: {} }]);
    holder = false;
    await assert.rejects(log.commit([{ t: 'cmd', id: 'c2', result: {} }]), (error) => JobError.is(error, 'leaseLost'));
    assert.equal(inner.commits, 1);
  });
});
