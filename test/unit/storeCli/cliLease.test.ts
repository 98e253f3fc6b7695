import * as assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { readLease } from '../../../src/core/session/lease';
import { CliError } from '../../../src/storeCli/cliErrors';
import { CliLease } from '../../../src/storeCli/cliLease';
import { fillFolder, useStoreFolders } from './storeCliTestKit';

/** Resolves once the lease's heartbeat has moved past `after`: the holder is alive and beating. */
async function heartbeatAfter(storage: string, after: number): Promise<void> {
  for (;;) {
    const lease = await readLease(storage);
    if (lease && lease.heartbeatAt > after) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('lifeline-store: the lease it takes while it writes', function () {
  this.timeout(60_000);
  const folders = useStoreFolders();
  beforeEach(() => fillFolder(folders()));

  it('keeps a window that opens meanwhile waiting (it neither takes the queue nor writes), which gets the queue once released', async () => {
    const { storage } = folders();
    const lease = await CliLease.acquire(storage);
    const held = await readLease(storage);
    assert.equal(held?.pid, process.pid);
    let opened = false;
    const opening = folders()
      .openRuntime()
      .then((runtime) => {
        opened = true;
        return runtime;
      });
    // Two heartbeats later the window has had more than a heartbeat to take a stale lease: it did not.
    await heartbeatAfter(storage, held?.heartbeatAt ?? 0);
    const beat = (await readLease(storage))?.heartbeatAt ?? 0;
    await heartbeatAfter(storage, beat);
    assert.equal(opened, false, 'the window waits while the command holds the folder');
    assert.equal((await readLease(storage))?.activationId, held?.activationId, 'the lease is still the command’s');
    await lease.release();
    const runtime = await opening;
    assert.equal(runtime.queue.role, 'holder');
    assert.equal(runtime.queue.jobs.length, 3);
  });

  it('refuses while a window holds the folder, naming it', async () => {
    const { storage } = folders();
    await folders().openRuntime();
    await assert.rejects(CliLease.acquire(storage), (error: unknown) => {
      assert.ok(CliError.is(error, 'busy'));
      assert.match((error as Error).message, new RegExp(`pid ${process.pid} on ${hostname()}`));
      return true;
    });
  });
});
