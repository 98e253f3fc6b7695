import * as assert from 'node:assert/strict';
import type { HistoryPanelCommand, HistoryPanelHostMessage } from '../../../src/shared/historyPanelProtocol';
import {
  HistoryChangedNotification,
  HistoryInitNotification,
  HistoryStatusNotification,
  PageReply,
  QueryErrorReply,
  defaultHistoryPanelState,
  historySources,
  historyStates,
} from '../../../src/shared/historyPanelProtocol';
import { historyPanelCommandSchema, historyPanelCommands, historyPanelStateSchema } from '../../../src/shared/historyPanelSchemas';
import type { MessageKind, MessageKinds, PanelMessage } from '../../../src/shared/panelProtocol';
import { anyOf } from '../../../src/shared/panelProtocol';
import type { QueuePanelCommand, QueuePanelNotification } from '../../../src/shared/queuePanelProtocol';
import { InitNotification, JobsNotification, defaultQueuePanelState, jobActions } from '../../../src/shared/queuePanelProtocol';
import { queuePanelCommandSchema, queuePanelCommands } from '../../../src/shared/queuePanelSchemas';
import type { z } from 'zod';

/** For each kind a webview may send: messages it must accept, and hostile or malformed ones of that kind. */
type Cases<U extends PanelMessage> = {
  readonly [T in U['type']]: { readonly good: readonly unknown[]; readonly hostile: readonly unknown[] };
};

/** Not a message of any kind: refused by every guard and by the union. */
const NOT_MESSAGES: readonly unknown[] = [
  null,
  undefined,
  'ready',
  42,
  [],
  [{ type: 'ready' }],
  {},
  { type: 42 },
  { type: '__proto__' },
  { type: 'constructor' },
  { type: 'runCommand', command: 'rm -rf /' },
];

function checkInbound<U extends PanelMessage>(name: string, kinds: MessageKinds<U>, union: z.ZodType<U>, cases: Cases<U>): void {
  describe(`${name}: every message from the webview is validated`, () => {
    it('has cases for every kind the protocol names', () => {
      assert.deepEqual(Object.keys(cases).sort(), Object.keys(kinds).sort());
    });

    for (const [type, { good, hostile }] of Object.entries(cases) as [U['type'], Cases<U>[U['type']]][]) {
      const kind = kinds[type] as MessageKind<PanelMessage>;
      it(`accepts a well-formed ${type} message, as its own kind only`, () => {
        for (const message of good) {
          assert.ok(kind.is(message), JSON.stringify(message));
          assert.ok(union.safeParse(message).success, JSON.stringify(message));
          for (const other of Object.values(kinds) as MessageKind<PanelMessage>[]) {
            if (other !== kind) assert.equal(other.is(message), false, `${other.type} takes ${JSON.stringify(message)}`);
          }
        }
      });
      it(`refuses a hostile or malformed ${type} message`, () => {
        assert.ok(hostile.length > 0, 'at least one hostile case');
        for (const message of hostile) {
          assert.equal(kind.is(message), false, JSON.stringify(message));
          assert.equal(union.safeParse(message).success, false, JSON.stringify(message));
        }
      });
    }

    it('refuses what is not a message of any kind', () => {
      for (const message of NOT_MESSAGES) {
        for (const kind of Object.values(kinds) as MessageKind<PanelMessage>[]) {
          assert.equal(kind.is(message), false, `${kind.type}: ${JSON.stringify(message)}`);
        }
        assert.equal(union.safeParse(message).success, false, JSON.stringify(message));
      }
    });
  });
}

const queueState = { version: 1, filter: 'build', scrollTop: 120, selectedJobId: 'a1', states: ['failed', 'timedOut'] };
checkInbound<QueuePanelCommand>('Queue dashboard', queuePanelCommands, queuePanelCommandSchema, {
  ready: {
    good: [{ type: 'ready' }],
    hostile: [
      { type: 'ready', state: queueState },
      { type: 'ready', __proto__: { polluted: true }, x: 1 },
    ],
  },
  stateChanged: {
    good: [
      { type: 'stateChanged', state: queueState },
      { type: 'stateChanged', state: defaultQueuePanelState },
    ],
    hostile: [
      { type: 'stateChanged' },
      { type: 'stateChanged', state: { ...queueState, version: 2 } },
      { type: 'stateChanged', state: { ...queueState, filter: 'x'.repeat(501) } },
      { type: 'stateChanged', state: { ...queueState, states: ['lost'] } },
      { type: 'stateChanged', state: { ...queueState, command: 'rm -rf /' } },
    ],
  },
  showLog: { good: [{ type: 'showLog' }], hostile: [{ type: 'showLog', channel: '../../etc/passwd' }] },
  retrySaving: { good: [{ type: 'retrySaving' }], hostile: [{ type: 'retrySaving', path: '/' }] },
  runJob: { good: [{ type: 'runJob' }], hostile: [{ type: 'runJob', command: 'curl evil | sh' }] },
  jobAction: {
    good: jobActions.map((action) => ({ type: 'jobAction', action, jobId: 'a1' })),
    hostile: [
      { type: 'jobAction', action: 'delete', jobId: 'a1' },
      { type: 'jobAction', action: 'cancel', jobId: '' },
      { type: 'jobAction', action: 'cancel', jobId: 'x'.repeat(201) },
      { type: 'jobAction', action: 'cancel', jobId: 7 },
      { type: 'jobAction', action: 'cancel', jobId: 'a1', command: 'rm -rf /' },
    ],
  },
});

const historyState = { version: 1, search: 'build', states: ['failed'], source: 'archive', scrollTop: 300, selectedJobId: 'j1', pages: 3 };
const query = { search: 'npm', states: ['succeeded'], source: 'active' };
checkInbound<HistoryPanelCommand>('History panel', historyPanelCommands, historyPanelCommandSchema, {
  ready: { good: [{ type: 'ready' }], hostile: [{ type: 'ready', requestId: 1 }] },
  stateChanged: {
    good: [
      { type: 'stateChanged', state: historyState },
      { type: 'stateChanged', state: defaultHistoryPanelState },
    ],
    hostile: [
      { type: 'stateChanged', state: { ...historyState, pages: 0 } },
      { type: 'stateChanged', state: { ...historyState, pages: 1e9 } },
      { type: 'stateChanged', state: { ...historyState, source: 'elsewhere' } },
      { type: 'stateChanged', state: { ...historyState, states: ['running'] } },
    ],
  },
  query: {
    good: [
      { type: 'query', requestId: 0, query },
      { type: 'query', requestId: 7, query: { ...query, source: 'archive', states: [...historyStates] }, cursor: 'abc' },
    ],
    hostile: [
      { type: 'query', query },
      { type: 'query', requestId: -1, query },
      { type: 'query', requestId: 1.5, query },
      { type: 'query', requestId: 1, query: { ...query, search: 'x'.repeat(501) } },
      { type: 'query', requestId: 1, query: { ...query, sql: 'DROP TABLE history' } },
      { type: 'query', requestId: 1, query: { ...query, states: [...historyStates, 'failed'] } },
      { type: 'query', requestId: 1, query, cursor: 'x'.repeat(2001) },
    ],
  },
  restore: {
    good: [{ type: 'restore', shard: 'history.0001', jobId: 'j1' }],
    hostile: [
      { type: 'restore', shard: '', jobId: 'j1' },
      { type: 'restore', shard: 'history.0001', jobId: 'x'.repeat(301) },
      { type: 'restore', shard: 'history.0001' },
    ],
  },
  export: { good: [{ type: 'export' }], hostile: [{ type: 'export', target: '/etc/passwd' }] },
  archiveNow: { good: [{ type: 'archiveNow' }], hostile: [{ type: 'archiveNow', batches: 1e9 }] },
});

describe('panel protocols: enumerations come from the protocol arrays', () => {
  it('the History state schema takes every history state and source the protocol names, and nothing else', () => {
    for (const source of historySources) {
      assert.ok(historyPanelStateSchema.safeParse({ ...defaultHistoryPanelState, source }).success, source);
    }
    assert.ok(historyPanelStateSchema.safeParse({ ...defaultHistoryPanelState, states: [...historyStates] }).success);
    assert.equal(historyPanelStateSchema.safeParse({ ...defaultHistoryPanelState, source: 'both' }).success, false);
  });
});

function checkHostMessages<U extends PanelMessage>(name: string, kinds: readonly MessageKind<U>[], samples: readonly U[]): void {
  it(`${name}: each guard of a host message takes its own kind only`, () => {
    assert.equal(kinds.length, samples.length);
    for (const sample of samples) {
      assert.deepEqual(
        kinds.filter((kind) => kind.is(sample)).map((kind) => kind.type),
        [sample.type],
      );
    }
    for (const message of NOT_MESSAGES) assert.equal(anyOf(...kinds)(message), false, JSON.stringify(message));
  });
}

describe('panel protocols: messages from the host', () => {
  checkHostMessages<QueuePanelNotification>(
    'Queue dashboard',
    [InitNotification, JobsNotification],
    [
      { type: 'init', state: defaultQueuePanelState, workspaceName: 'w', trusted: true },
      { type: 'jobs', jobs: [], paused: false, unavailable: undefined, status: 'open', notices: [] },
    ],
  );
  checkHostMessages<HistoryPanelHostMessage>(
    'History panel',
    [HistoryInitNotification, HistoryStatusNotification, HistoryChangedNotification, PageReply, QueryErrorReply],
    [
      { type: 'init', state: defaultHistoryPanelState, workspaceName: 'w' },
      { type: 'status', unavailable: undefined, summary: undefined },
      { type: 'changed' },
      { type: 'page', requestId: 1, rows: [], nextCursor: undefined, lost: 0 },
      { type: 'error', requestId: 1, message: 'stale cursor' },
    ],
  );
});
