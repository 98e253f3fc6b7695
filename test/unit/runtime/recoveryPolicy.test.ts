import * as assert from 'node:assert/strict';
import type { Job } from '../../../src/core/queue/jobModel';
import { decideRecovery, interruptionKey } from '../../../src/core/runtime/recoveryPolicy';

function interrupted(id: string, interruptions: number): Job {
  return { id, name: id, state: 'interrupted', interruptions } as Job;
}

describe('recovery policy: which interrupted jobs to resume and which to ask about', () => {
  const once = interrupted('a', 1);
  const twice = interrupted('b', 2);
  const running = { id: 'c', name: 'c', state: 'running', interruptions: 0 } as Job;

  it('auto resumes a job interrupted once, and asks about one interrupted twice in a row', () => {
    const decision = decideRecovery([once, twice, running], new Set(), 'auto');
    assert.deepEqual(
      decision.resume.map((job) => job.id),
      ['a'],
    );
    assert.deepEqual(
      decision.ask.map((job) => job.id),
      ['b'],
    );
    assert.equal(decision.question, 'interruptedTwice');
  });

  it('prompt asks about every fresh interruption; off leaves them all alone', () => {
    const prompt = decideRecovery([once, twice], new Set(), 'prompt');
    assert.deepEqual(prompt.resume, []);
    assert.deepEqual(
      prompt.ask.map((job) => job.id),
      ['a', 'b'],
    );
    assert.equal(prompt.question, 'interrupted');
    const off = decideRecovery([once, twice], new Set(), 'off');
    assert.deepEqual([off.resume, off.ask], [[], []]);
    assert.deepEqual(
      off.fresh.map((job) => job.id),
      ['a', 'b'],
      'handled all the same, so turning the policy on later does not act on old interruptions',
    );
  });

  it('handles each interruption once: the same one is not fresh again, a new interruption of the job is', () => {
    const handled = new Set([interruptionKey(once)]);
    assert.deepEqual(decideRecovery([once], handled, 'auto').fresh, []);
    assert.deepEqual(
      decideRecovery([interrupted('a', 2)], handled, 'auto').ask.map((job) => job.id),
      ['a'],
    );
  });
});
