import * as assert from 'node:assert/strict';
import type { Harness } from './jobTestKit';
import { openHarness, settle } from './jobTestKit';

describe('jobs: a hold on starting (low disk space)', () => {
  let h: Harness;
  afterEach(() => h.dispose());

  const add = async (name: string): Promise<string> => (await h.queue.enqueue({ definition: { name, command: 'true' } })).id;

  it('starts nothing new while held, lets running jobs finish, leaves the pause flag alone, and starts again when let go', async () => {
    h = await openHarness({ concurrency: 2 });
    const first = await add('running before the hold');
    await settle(h.queue);
    assert.deepEqual(h.runner.startedIds(), [first]);

    h.queue.setHold('lowDisk', true);
    const second = await add('queued during the hold');
    h.runner.exit(first, 0);
    await settle(h.queue);
    assert.equal(h.queue.getJob(first)?.state, 'succeeded', 'the running job finished with its own result');
    assert.deepEqual(h.runner.startedIds(), [first], 'nothing new started while held');
    assert.deepEqual(h.runner.killed, [], 'nothing was cancelled');
    assert.equal(h.queue.flags.paused, false, "the user's pause flag is not touched");
    assert.equal(h.queue.getJob(second)?.state, 'queued');

    h.queue.setHold('lowDisk', false);
    await settle(h.queue);
    assert.deepEqual(h.runner.startedIds(), [first, second]);
  });

  it('is let go only when every reason is', async () => {
    h = await openHarness();
    h.queue.setHold('a', true);
    h.queue.setHold('b', true);
    const id = await add('held twice');
    h.queue.setHold('a', false);
    await settle(h.queue);
    assert.deepEqual(h.runner.startedIds(), []);
    h.queue.setHold('b', false);
    await settle(h.queue);
    assert.deepEqual(h.runner.startedIds(), [id]);
  });
});
