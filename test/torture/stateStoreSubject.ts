import { join } from 'node:path';
import type { StateData } from '../../src/core/storage/stateCodec';
import { StateStore } from '../../src/core/storage/stateStore';
import type { StorageEvent } from '../../src/core/storage/storeEvents';
import type { TortureSubject } from './tortureHarness';

/** One commit: each entry sets `[namespace, key, value]` or, with value null, deletes. */
export interface StateIntent {
  readonly ops: readonly (readonly [string, string, unknown])[];
}

type StateModel = ReadonlyMap<string, string>;

/** Small thresholds, so that kills also land inside compactions. */
export const tortureCompaction = { maxJournalBytes: 64 * 1024, maxJournalRecords: 40 };

function render(entries: Iterable<readonly [string, string]>): string {
  return JSON.stringify([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function flatten(data: StateData): [string, string][] {
  const entries: [string, string][] = [];
  for (const [namespace, keys] of data) for (const [key, json] of keys) entries.push([`${namespace}\u0000${key}`, json]);
  return entries;
}

export const stateStoreSubject: TortureSubject<StateModel, StateIntent> = {
  childCommand: (directory, round, firstId) => ({
    script: join(__dirname, 'stateStoreChild.js'),
    args: [directory, String(round), String(firstId)],
  }),
  emptyModel: () => new Map(),
  apply: (model, intent) => {
    const next = new Map(model);
    for (const [namespace, key, value] of intent.ops) {
      if (value === null) next.delete(`${namespace}\u0000${key}`);
      else next.set(`${namespace}\u0000${key}`, JSON.stringify(value));
    }
    return next;
  },
  render: (model) => render(model),
  readStore: async (directory) => {
    const events: StorageEvent[] = [];
    const store = await StateStore.open({ directory, compaction: tortureCompaction, onEvent: (event) => events.push(event) });
    try {
      const rendered = render(flatten(store.durable?.state ?? new Map()));
      // A torn tail is what a kill leaves; anything else means damage the kill should not cause.
      const problems = events
        .filter((event) => event.type !== 'journalTailCut')
        .map((event) => `unexpected ${event.type}: ${JSON.stringify(event)}`);
      return { rendered, problems };
    } finally {
      await store.close();
    }
  },
};
