import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QueueRecord, QueueSnapshot } from '../../../src/core/queue/jobModel';
import { DurableQueueLog } from '../../../src/core/queue/durableQueueLog';
import { JobQueue } from '../../../src/core/queue/jobQueue';
import type { QueueLog } from '../../../src/core/queue/queueLog';
import { MemoryQueueLog } from '../../../src/core/queue/queueLog';
import type { CommitOptions } from '../../../src/core/storage/durableStore';
import type { StorageEvent } from '../../../src/core/storage/storeEvents';
import { FakeRunner } from './jobTestKit';

/** Passes everything through, counting the compactions the queue asks for. */
class CountingLog implements QueueLog {
  asked = 0;
  constructor(private readonly inner: QueueLog) {}
  load(): Promise<{ snapshot: QueueSnapshot | undefined; records: QueueRecord[] }> {
    return this.inner.load();
  }
  commit(records: readonly QueueRecord[], options?: CommitOptions): Promise<void> {
    return this.inner.commit(records, options);
  }
  compact(snapshot: QueueSnapshot): Promise<void> {
    this.asked++;
    return this.inner.compact(snapshot);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** One owner decides when the queue's journal is folded: its log (for the durable one, the store's thresholds). */
describe('jobs: one owner for the compaction of the queue', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-compact-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('the queue never asks its log to compact by itself, however many commits it makes', async () => {
    const log = new CountingLog(new MemoryQueueLog());
    const queue = await JobQueue.open({ log, runner: new FakeRunner(), baseDir: dir });
    // Past the 5,000 records at which the queue used to decide for itself.
    for (let i = 0; i < 5_001; i++) await queue.mutate([{ t: 'flags', flags: { ...queue.flags, paused: i % 2 === 0 } }]);
    await queue.whenIdle();
    assert.equal(log.asked, 0);
    await queue.dispose();
  });

  it('the durable store folds the journal on its own threshold, once per crossing', async () => {
    const events: StorageEvent[] = [];
    const durable = new DurableQueueLog({
      directory: join(dir, 'queue'),
      compaction: { maxJournalRecords: 10 },
      onEvent: (event) => events.push(event),
    });
    const log = new CountingLog(durable);
    let queue = await JobQueue.open({ log, runner: new FakeRunner(), baseDir: dir });
    await queue.command({ type: 'setPaused', paused: true });
    for (let i = 0; i < 29; i++) await queue.enqueue({ definition: { name: `j${i}`, command: 'true' } });
    await queue.whenIdle();
    await durable.durableStore?.whenIdle();
    const compactions = events.filter((event) => event.type === 'compacted').length;
    assert.ok(compactions >= 1 && compactions <= 3, `30 commits over a threshold of 10 records: ${compactions} compactions`);
    assert.equal(log.asked, 0, 'the queue did not ask as well');
    const before = JSON.parse(JSON.stringify(queue.jobs));
    await queue.dispose();
    queue = await JobQueue.open({ log: new DurableQueueLog({ directory: join(dir, 'queue') }), runner: new FakeRunner(), baseDir: dir });
    assert.deepEqual(JSON.parse(JSON.stringify(queue.jobs)), before);
    await queue.dispose();
  });
});
