import * as assert from 'node:assert/strict';
import { promises as fsPromises, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { FencedQueueLog } from '../../../src/core/session/fencedQueueLog';
import { JobError } from '../../../src/core/queue/jobErrors';
import { newLease, readLease, refreshLease, removeLease, takeOverLease, tryCreateLease } from '../../../src/core/session/lease';
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

  it('a heartbeat that was past its check when the lease was taken over leaves the new holder in place', async () => {
    const old = lease();
    assert.equal(await tryCreateLease(dir, old), true);
    const judged = { ...old };
    const taker = lease();
    // The old holder freezes between reading the lease (still its own) and writing its heartbeat,
    // and a client takes the lease over meanwhile: the takeover runs at the heartbeat's first write.
    const original = fsPromises.open;
    let armed = true;
    (fsPromises as { open: typeof fsPromises.open }).open = async (...args: Parameters<typeof fsPromises.open>) => {
      if (armed && String(args[0]).includes(LEASE_FILE)) {
        armed = false;
        assert.equal(await takeOverLease(dir, judged, taker, 5000), true);
      }
      return original(...args);
    };
    try {
      old.heartbeatAt += 1000;
      assert.equal(await refreshLease(dir, old), false, 'the old holder learns it lost the lease');
    } finally {
      (fsPromises as { open: typeof fsPromises.open }).open = original;
    }
    assert.equal(armed, false, 'the takeover ran inside the heartbeat');
    assert.equal((await readLease(dir))?.activationId, taker.activationId, 'the new holder keeps the lease');
    assert.equal(await refreshLease(dir, taker), true);
    assert.deepEqual(
      readdirSync(dir)
        .filter((name) => name.startsWith(LEASE_FILE))
        .sort(),
      [LEASE_FILE, `${LEASE_FILE}.${taker.activationId}`],
      'the old holder left no file behind',
    );
  });

  it('a released lease is gone, and a link left without its file is taken over at once', async () => {
    const first = lease();
    assert.equal(await tryCreateLease(dir, first), true);
    await removeLease(dir, first);
    assert.equal(await readLease(dir), undefined);
    assert.deepEqual(readdirSync(dir), []);
    const second = lease();
    assert.equal(await tryCreateLease(dir, second), true);
    // A holder that crashed between removing its file and its link.
    rmSync(join(dir, `${LEASE_FILE}.${second.activationId}`));
    const dangling = await readLease(dir);
    assert.ok(dangling);
    assert.equal(new StalenessObserver(60_000).isStale(dangling), true);
    const third = lease();
    assert.equal(await tryCreateLease(dir, third), false, 'the link is still there');
    assert.equal(await takeOverLease(dir, dangling, third, 5000), true);
    assert.equal((await readLease(dir))?.activationId, third.activationId);
  });
});
