import * as assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock';
import { DurableQueueLog } from '../../../src/core/queue/durableQueueLog';
import { JobQueue } from '../../../src/core/queue/jobQueue';
import type { Code, Scenario } from '../storage/ioerrLoop';
import { ioerrLoop } from '../storage/ioerrLoop';
import { FakeRunner, settle } from './jobTestKit';

/**
 * The ioerr loop (ioerrLoop.ts) over the queue on its durable store: enqueues while call N
 * fails. A failed enqueue is rejected (`diskFull` for ENOSPC) and undone in memory; with the fault
 * gone the same open queue takes the next command, and a reopen holds exactly what memory holds.
 */
function queueScenario(): Scenario {
  let dir = '';
  let queue: JobQueue | undefined;
  const clock = new ManualClock();
  const acknowledged: string[] = [];
  const open = async (): Promise<JobQueue> => {
    const opened = await JobQueue.open({ log: new DurableQueueLog({ directory: dir }), runner: new FakeRunner(), clock, baseDir: dir });
    await settle(opened);
    return opened;
  };
  const enqueue = async (id: string) => {
    await queue?.enqueue({ jobId: id, definition: { name: id, command: 'true' } });
    acknowledged.push(id);
  };
  return {
    async setup(d) {
      dir = d;
      queue = await open();
      await queue.command({ type: 'setAutoRun', autoRun: false });
      await queue.dispose();
      queue = await open();
      await enqueue('seed');
    },
    async run() {
      for (const id of ['a', 'b', 'c']) await enqueue(id);
    },
    async verify() {
      if (!queue) throw new Error('no queue');
      await enqueue('after');
      const inMemory = queue.jobs.map((job) => job.id);
      assert.equal(queue.savingStatus.state, 'saved');
      await queue.dispose();
      queue = await open();
      assert.deepEqual(
        queue.jobs.map((job) => job.id),
        inMemory,
        'the reopened queue differs from the one that stayed open',
      );
      assert.deepEqual(inMemory, acknowledged, 'the jobs are exactly the acknowledged ones');
    },
    close: async () => queue?.dispose(),
  };
}

describe('jobs: an I/O error at every step of the durable queue (the ioerr loop)', function () {
  this.timeout(120_000);
  for (const code of ['EIO', 'ENOSPC'] as Code[]) {
    it(`enqueue: fails call N with ${code} for every N; the next command works without a reopen`, async () => {
      assert.ok((await ioerrLoop(code, queueScenario)) > 1);
    });
  }
});
