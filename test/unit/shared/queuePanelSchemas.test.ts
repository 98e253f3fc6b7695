import * as assert from 'node:assert/strict';
import { queuePanelCommandSchema, queuePanelStateSchema } from '../../../src/shared/queuePanelSchemas';

describe('Queue dashboard messages', () => {
  it('accepts the messages the webview sends', () => {
    for (const message of [
      { type: 'ready' },
      { type: 'showLog' },
      { type: 'runJob' },
      { type: 'jobAction', action: 'cancel', jobId: 'a1' },
      { type: 'stateChanged', state: { version: 1, filter: 'build', scrollTop: 120, selectedJobId: 'a1' } },
      { type: 'stateChanged', state: { version: 1, filter: '', scrollTop: 0, states: ['failed', 'timedOut'] } },
    ]) {
      assert.ok(queuePanelCommandSchema.safeParse(message).success, JSON.stringify(message));
    }
  });

  it('refuses hostile or malformed messages, so the host never acts on them', () => {
    for (const message of [
      null,
      'ready',
      { type: 'runCommand', command: 'rm -rf /' },
      { type: 'jobAction', action: 'delete', jobId: 'a1' },
      { type: 'jobAction', action: 'cancel', jobId: '' },
      { type: 'jobAction', action: 'cancel', jobId: 'x'.repeat(201) },
      { type: 'jobAction', action: 'cancel', jobId: 'a1', extra: true },
      { type: 'stateChanged', state: { version: 2, filter: '', scrollTop: 0 } },
      { type: 'stateChanged', state: { version: 1, filter: 'x'.repeat(501), scrollTop: 0 } },
      { type: 'stateChanged', state: { version: 1, filter: '', scrollTop: -1 } },
      { type: 'stateChanged', state: { version: 1, filter: '', scrollTop: 0, states: ['lost'] } },
      { type: '__proto__' },
    ]) {
      assert.equal(queuePanelCommandSchema.safeParse(message).success, false, JSON.stringify(message));
    }
    assert.equal(queuePanelStateSchema.safeParse({ version: 1, filter: '', scrollTop: 0, selectedJobId: 42 }).success, false);
  });
});
