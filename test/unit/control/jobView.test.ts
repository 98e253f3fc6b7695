import * as assert from 'node:assert/strict';
import { LineAssembler, lastLines, withoutProtocolLines } from '../../../src/core/control/jobOutput';
import type { JobView } from '../../../src/core/control/jobView';
import { EXIT, exitStatusOf, exitStatusOfAll } from '../../../src/core/control/jobView';
import { parseAddRequest } from '../../../src/core/control/addRequest';
import { ControlError } from '../../../src/core/control/controlErrors';

function view(fields: Partial<JobView>): JobView {
  return {
    id: 'j',
    name: 'n',
    kind: 'command',
    state: 'succeeded',
    finished: true,
    priority: 0,
    tags: [],
    stages: [],
    attempts: 1,
    createdAt: '',
    ...fields,
  };
}

describe('control: exit statuses mirror job results, output reads as people see it', () => {
  it('maps each result to the status a shell would report', () => {
    assert.equal(exitStatusOf(view({ state: 'succeeded', exitCode: 0 })), 0);
    assert.equal(exitStatusOf(view({ state: 'failed', exitCode: 3 })), 3);
    assert.equal(exitStatusOf(view({ state: 'failed', exitCode: 256 + 7 })), 7, 'the low byte, as wait(2) reports it');
    assert.equal(exitStatusOf(view({ state: 'failed', exitCode: 256 })), EXIT.failedToStart, 'a failure never reads as success');
    assert.equal(exitStatusOf(view({ state: 'failed', exitCode: null, signal: 'SIGKILL' })), 137);
    assert.equal(exitStatusOf(view({ state: 'timedOut', exitCode: null, signal: 'SIGTERM' })), 143);
    assert.equal(exitStatusOf(view({ state: 'failed', error: 'could not start' })), EXIT.failedToStart);
    assert.equal(exitStatusOf(view({ state: 'cancelled' })), 130);
    assert.equal(exitStatusOf(view({ state: 'interrupted', finished: false })), 75);
    assert.equal(exitStatusOfAll([view({}), view({ state: 'failed', exitCode: 9 }), view({ state: 'failed', exitCode: 4 })]), 9);
    assert.equal(exitStatusOfAll([view({}), view({})]), 0);
  });

  it('leaves out protocol lines, also when they arrive cut across chunks', () => {
    assert.equal(withoutProtocolLines('a\n::lifeline progress 0.5\nb\n'), 'a\nb\n');
    const lines = new LineAssembler();
    let out = lines.push(Buffer.from('one\n::life'));
    out += lines.push(Buffer.from('line checkpoint x\ntw'));
    out += lines.push(Buffer.from('o\n'));
    out += lines.push(Buffer.from([0xe2, 0x82]));
    out += lines.push(Buffer.from([0xac, 0x0a]));
    out += lines.push(Buffer.from('last, no newline'));
    out += lines.flush();
    assert.equal(out, 'one\ntwo\n€\nlast, no newline');
    assert.equal(lastLines('a\nb\nc\n', 2), 'b\nc\n');
    assert.equal(lastLines('a\nb\nc', 1), 'c');
  });

  it('validates a run request field by field and wants exactly one of definition, command, stages', () => {
    assert.deepEqual(parseAddRequest({ command: 'make', tags: ['x'] }), { command: 'make', tags: ['x'] });
    for (const bad of [
      {},
      { command: 'a', definition: 'b' },
      { command: '' },
      { command: 'a', priority: 1.5 },
      { command: 'a', extra: 1 },
      { stages: [] },
      'make',
    ]) {
      assert.throws(
        () => parseAddRequest(bad),
        (error: unknown) => ControlError.is(error, 'invalidRequest'),
        JSON.stringify(bad),
      );
    }
  });
});
