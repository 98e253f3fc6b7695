import * as assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DurableQueueLog } from '../../../src/core/queue/durableQueueLog';
import { JobQueue } from '../../../src/core/queue/jobQueue';
import { FakeRunner, settle } from './jobTestKit';

describe('jobs: the queue on the durable store', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-qlog-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const open = (): Promise<JobQueue> =>
    JobQueue.open({ log: new DurableQueueLog({ directory: join(dir, 'queue') }), runner: new FakeRunner(), baseDir: dir });

  it('reopens exactly the acknowledged queue, across a compaction, with files in the store layout', async () => {
    let queue = await open();
    await queue.command({ type: 'setPaused', paused: true });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await queue.enqueue({ definition: { name: `j${i}`, command: 'true', priority: i % 2 } })).id);
    await queue.command({ type: 'cancel', jobId: ids[0] as string });
    await queue.compact();
    await queue.command({ type: 'move', jobId: ids[4] as string, before: ids[1] as string });
    const before = JSON.parse(JSON.stringify(queue.jobs));
    await queue.dispose();
    queue = await open();
    assert.deepEqual(JSON.parse(JSON.stringify(queue.jobs)), before);
    assert.equal(queue.flags.paused, true);
    assert.ok(readdirSync(join(dir, 'queue')).includes('queue.snapshot'));
    await queue.dispose();
  });

  it('dedupes a command id recorded before a reopen', async () => {
    let queue = await open();
    const envelope = { commandId: 'command-0001', command: { type: 'enqueue', definition: { name: 'once', command: 'true' } } };
    const first = await queue.execute(envelope);
    await settle(queue);
    await queue.dispose();
    queue = await open();
    assert.deepEqual(await queue.execute(envelope), first);
    assert.equal(queue.jobs.length, 1);
    await queue.dispose();
  });
});
