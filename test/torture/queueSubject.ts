import { join } from 'node:path';
import { DurableQueueLog } from '../../src/core/queue/durableQueueLog';
import { QueueState } from '../../src/core/queue/queueState';
import type { StorageEvent } from '../../src/core/storage/storeEvents';
import type { TortureSubject } from './tortureHarness';

/**
 * The job queue's torture subject: queue commands instead of key-value sets. The model
 * is total: a command that the queue would refuse (cancel of a job that is not waiting, say) is a
 * no-op in it, so an intent whose refusal was cut off by the kill still predicts the store.
 */
export type QueueIntent =
  | { readonly op: 'enqueue'; readonly id: string; readonly priority: number }
  | { readonly op: 'cancel'; readonly id: string }
  | { readonly op: 'setPriority'; readonly id: string; readonly priority: number }
  | { readonly op: 'clearFinished' };

type QueueModel = ReadonlyMap<string, { readonly state: string; readonly priority: number }>;

/** Small thresholds, so that kills also land inside compactions. */
export const queueTortureCompaction = { maxJournalBytes: 64 * 1024, maxJournalRecords: 60 };

export function queueDirectory(directory: string): string {
  return join(directory, 'queue');
}

function render(entries: Iterable<readonly [string, { readonly state: string; readonly priority: number }]>): string {
  return JSON.stringify(
    [...entries].map(([id, job]) => [id, job.state, job.priority]).sort(([a], [b]) => (String(a) < String(b) ? -1 : 1)),
  );
}

export const queueSubject: TortureSubject<QueueModel, QueueIntent> = {
  childCommand: (directory, round, firstId) => ({
    script: join(__dirname, 'queueChild.js'),
    args: [directory, String(round), String(firstId)],
  }),
  emptyModel: () => new Map(),
  apply: (model, intent) => {
    const next = new Map(model);
    const job = 'id' in intent ? next.get(intent.id) : undefined;
    if (intent.op === 'enqueue' && !job) next.set(intent.id, { state: 'queued', priority: intent.priority });
    if (intent.op === 'cancel' && job?.state === 'queued') next.set(intent.id, { ...job, state: 'cancelled' });
    if (intent.op === 'setPriority' && job?.state === 'queued') next.set(intent.id, { ...job, priority: intent.priority });
    if (intent.op === 'clearFinished') for (const [id, entry] of model) if (entry.state === 'cancelled') next.delete(id);
    return next;
  },
  render: (model) => render(model),
  readStore: async (directory) => {
    const events: StorageEvent[] = [];
    const log = new DurableQueueLog({
      directory: queueDirectory(directory),
      compaction: queueTortureCompaction,
      onEvent: (event) => events.push(event),
    });
    try {
      const { snapshot, records } = await log.load();
      const state = QueueState.fromSnapshot(snapshot);
      for (const record of records) state.apply(record);
      const problems = events
        .filter((event) => event.type !== 'journalTailCut')
        .map((event) => `unexpected ${event.type}: ${JSON.stringify(event)}`);
      return {
        rendered: render([...state.jobs].map(([id, job]) => [id, { state: job.state, priority: job.priority }] as const)),
        problems,
      };
    } finally {
      await log.close();
    }
  },
};
