import * as assert from 'node:assert/strict';
import type { Harness } from './jobTestKit';
import { openHarness, settle } from './jobTestKit';

describe('jobs: queue order', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await openHarness({ autoRun: false });
  });
  afterEach(() => h.dispose());

  const add = async (name: string, priority = 0): Promise<string> =>
    (await h.queue.enqueue({ definition: { name, command: 'true', priority } })).id;
  const names = (): string[] => h.queue.jobs.map((job) => job.name);

  it('runs higher priority first, then in the order jobs were added', async () => {
    await add('a');
    await add('b', 5);
    await add('c');
    await add('d', 5);
    await add('e', -1);
    assert.deepEqual(names(), ['b', 'd', 'a', 'c', 'e']);
  });

  it('moves a job before or after another, taking its priority', async () => {
    const a = await add('a');
    await add('b');
    const c = await add('c');
    const d = await add('d', 3);
    await h.queue.command({ type: 'move', jobId: c, before: a });
    assert.deepEqual(names(), ['d', 'c', 'a', 'b']);
    await h.queue.command({ type: 'move', jobId: d, after: a });
    assert.deepEqual(names(), ['c', 'a', 'd', 'b']);
    assert.equal(h.queue.getJob(d)?.priority, 0);
  });

  it('keeps the order through many moves to one spot (renumbers when positions run out)', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await add(`j${i}`));
    const [first, , , last] = ids as [string, string, string, string];
    for (let i = 0; i < 80; i++) {
      // Alternate the moved job between the two slots just after the first job.
      const mover = h.queue.jobs[i % 2 === 0 ? 3 : 2]?.id as string;
      await h.queue.command({ type: 'move', jobId: mover, after: first });
    }
    assert.equal(h.queue.jobs[0]?.id, first);
    assert.equal(new Set(h.queue.jobs.map((job) => job.position)).size, 4, 'positions stay distinct');
    await h.queue.command({ type: 'move', jobId: last, before: first });
    assert.equal(h.queue.jobs[0]?.id, last);
  });

  it('re-prioritises a waiting job and refuses a running one', async () => {
    await add('a');
    const b = await add('b');
    await h.queue.command({ type: 'setPriority', jobId: b, priority: 10 });
    assert.deepEqual(names(), ['b', 'a']);
    h.queue.start();
    await settle(h.queue);
    await assert.rejects(
      h.queue.command({ type: 'setPriority', jobId: b, priority: 1 }),
      (error: Error & { reason?: string }) => error.reason === 'invalidState',
    );
  });

  it('keeps the order across a restart', async () => {
    const a = await add('a');
    await add('b', 1);
    const c = await add('c');
    await h.queue.command({ type: 'move', jobId: c, before: a });
    const before = names();
    await h.reopen();
    assert.deepEqual(names(), before);
  });
});
