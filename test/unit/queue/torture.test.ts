import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queueSubject } from '../../torture/queueSubject';
import { runTorture, summaryLine } from '../../torture/tortureHarness';

describe('jobs: crash torture of the queue', function () {
  // Each kill restarts a Node child that opens the queue: about 0.3 s a kill on 2 cores.
  this.timeout(240_000);
  let directory: string;
  before(() => {
    directory = mkdtempSync(join(tmpdir(), 'lifeline-queue-torture-'));
  });
  // A timed-out test leaves its campaign running: stop it before its folder goes.
  const stop = new AbortController();
  let running: Promise<unknown> = Promise.resolve();
  after(async () => {
    stop.abort();
    await running.catch(() => undefined);
    rmSync(directory, { recursive: true, force: true });
  });

  it('after each of 200 SIGKILLs the reopened queue holds exactly the acknowledged commands', async () => {
    const result = await (running = runTorture(queueSubject, { kills: 200, directory, signal: stop.signal }));
    process.stdout.write(`      ${summaryLine(result)}\n`);
    assert.deepEqual(result.problems, []);
    assert.equal(result.lost, 0);
    assert.equal(result.unreadable, 0);
    assert.ok(result.kills >= 190, `only ${result.kills} kills hit a running child`);
    assert.ok(result.acknowledged > 200, `only ${result.acknowledged} commands were acknowledged`);
  });
});
