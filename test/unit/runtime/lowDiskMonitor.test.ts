import * as assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock';
import { nullLogger } from '../../../src/core/logger';
import type { Job } from '../../../src/core/queue/jobModel';
import type { LowDiskChange } from '../../../src/core/runtime/lowDiskMonitor';
import { LowDiskMonitor } from '../../../src/core/runtime/lowDiskMonitor';
import type { RuntimeReport } from '../../../src/core/runtime/runtimeReports';
import { FakeRunner } from '../queue/jobTestKit';
import { until, useRuntimeFolders } from './runtimeTestKit';

const MB = 1024 * 1024;

describe('runtime: the low-disk monitor', () => {
  let monitor: LowDiskMonitor | undefined;
  afterEach(() => monitor?.dispose());

  function open(free: { bytes: number }, minFreeMB: { value: number }, clock = new ManualClock()) {
    const probed: string[] = [];
    const changes: LowDiskChange[] = [];
    monitor = new LowDiskMonitor({
      directory: '/storage',
      minFreeMB: () => minFreeMB.value,
      clock,
      logger: nullLogger,
      intervalMs: 1000,
      freeBytes: async (path) => {
        probed.push(path);
        return free.bytes;
      },
    });
    monitor.onDidChange((change) => changes.push(change));
    return { monitor, probed, changes, clock };
  }

  it('says once when the disk goes below the threshold and once when space returns, checking on its interval', async () => {
    const free = { bytes: 500 * MB };
    const { monitor, probed, changes, clock } = open(free, { value: 200 });
    await monitor.check();
    assert.deepEqual(probed, ['/storage'], 'it checks the storage folder');
    assert.deepEqual(changes, [], 'enough space: nothing to say');

    free.bytes = 50 * MB;
    clock.advance(1000);
    await monitor.check();
    assert.deepEqual(changes, [{ low: true, freeBytes: 50 * MB, thresholdBytes: 200 * MB }]);
    assert.equal(monitor.isLow, true);
    clock.advance(1000);
    await monitor.check();
    assert.equal(changes.length, 1, 'said once, not at every check');

    free.bytes = 300 * MB;
    clock.advance(1000);
    await monitor.check();
    assert.deepEqual(changes.at(-1), { low: false, freeBytes: 300 * MB, thresholdBytes: 200 * MB });
    assert.equal(monitor.isLow, false);
    assert.ok(probed.length >= 4, 'the interval checked again');
  });

  it('a threshold of 0 turns it off (and lets held jobs go)', async () => {
    const minFreeMB = { value: 200 };
    const { monitor, probed, changes } = open({ bytes: 0 }, minFreeMB);
    await monitor.check();
    assert.equal(monitor.isLow, true);
    minFreeMB.value = 0;
    const before = probed.length;
    await monitor.check();
    assert.equal(monitor.isLow, false);
    assert.equal(probed.length, before, 'no probe when off');
    assert.equal(changes.at(-1)?.low, false);
  });

  it('a probe that fails changes nothing', async () => {
    monitor = new LowDiskMonitor({
      directory: '/gone',
      minFreeMB: () => 200,
      clock: new ManualClock(),
      logger: nullLogger,
      freeBytes: () => Promise.reject(Object.assign(new Error('gone'), { code: 'ENOENT' })),
    });
    await monitor.check();
    assert.equal(monitor.isLow, false);
  });

  describe('in the runtime', () => {
    const folders = useRuntimeFolders();

    it('holds back new jobs while low (running ones go on, the pause flag is untouched), tells once each way, and starts them when space returns', async () => {
      const free = { bytes: 1000 * MB };
      const runner = new FakeRunner();
      const reports: RuntimeReport[] = [];
      const runtime = await folders.open({
        options: { storageMinFreeMB: 200, concurrency: 2 },
        onDidReport: (report) => reports.push(report),
        overrides: { createRunner: () => runner, freeBytes: async () => free.bytes },
      });
      const job = (id: string): Job | undefined => runtime.queue.getJob(id);
      const first = await runtime.queue.execute({ type: 'enqueue', definition: { name: 'first', command: 'true' } });
      const firstId = (first as { jobId: string }).jobId;
      await until(runtime.queue.onDidChange, () => job(firstId)?.state === 'running', 'the first job runs');

      free.bytes = 10 * MB;
      await runtime.retrySaving();
      assert.equal(runtime.isLowOnDisk, true);
      const lows = reports.filter((report) => report.type === 'lowDiskSpace');
      assert.deepEqual(lows, [{ type: 'lowDiskSpace', low: true, freeBytes: 10 * MB, thresholdBytes: 200 * MB, heldJobs: 0 }]);

      const second = await runtime.queue.execute({ type: 'enqueue', definition: { name: 'second', command: 'true' } });
      const secondId = (second as { jobId: string }).jobId;
      runner.exit(firstId, 0);
      await until(runtime.queue.onDidChange, () => job(firstId)?.state === 'succeeded', 'the running job finishes');
      assert.equal(job(secondId)?.state, 'queued', 'no new job starts while the disk is low');
      assert.equal(runtime.queue.flags?.paused, false, "the user's pause flag is untouched");
      assert.deepEqual(runner.killed, [], 'nothing was cancelled');

      free.bytes = 500 * MB;
      await runtime.retrySaving();
      await until(runtime.queue.onDidChange, () => job(secondId)?.state === 'running', 'the held job starts when space returns');
      assert.deepEqual(
        reports.filter((report) => report.type === 'lowDiskSpace').map((report) => report.type === 'lowDiskSpace' && report.low),
        [true, false],
        'told once each way',
      );
    });
  });
});
