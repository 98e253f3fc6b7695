import * as assert from 'node:assert/strict';
import { stateStoreSubject } from '../../torture/stateStoreSubject';
import { runTorture, summaryLine } from '../../torture/tortureHarness';
import { makeTempDir } from './storageTestKit';

describe('storage: crash torture', function () {
  // 200 SIGKILLs of a child that starts Node each time: about 45 s on a 2-core machine.
  this.timeout(180_000);
  let temp: ReturnType<typeof makeTempDir>;
  before(() => {
    temp = makeTempDir('lifeline-torture-');
  });
  // A timed-out test leaves its campaign running: stop it before its folder goes.
  const stop = new AbortController();
  let running: Promise<unknown> = Promise.resolve();
  after(async () => {
    stop.abort();
    await running.catch(() => undefined);
    temp.cleanup();
  });

  it('loses no acknowledged commit and never leaves an unreadable store over 200 kills', async () => {
    const result = await (running = runTorture(stateStoreSubject, { kills: 200, directory: temp.dir, signal: stop.signal }));
    process.stdout.write(`      ${summaryLine(result)}\n`);
    assert.deepEqual(result.problems, []);
    assert.equal(result.lost, 0);
    assert.equal(result.unreadable, 0);
    assert.ok(result.kills >= 190, `only ${result.kills} kills hit a running child`);
    assert.ok(result.acknowledged > 1000, `only ${result.acknowledged} commits were acknowledged`);
  });
});
