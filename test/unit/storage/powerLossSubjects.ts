import { join } from 'node:path';
import { JobHistory } from '../../../src/core/history/jobHistory';
import { DurableQueueLog } from '../../../src/core/queue/durableQueueLog';
import type { QueueCommand } from '../../../src/core/queue/jobModel';
import { JobQueue } from '../../../src/core/queue/jobQueue';
import type { StateData } from '../../../src/core/storage/stateCodec';
import { StateStore } from '../../../src/core/storage/stateStore';
import type { QueueIntent } from '../../torture/queueSubject';
import { queueSubject } from '../../torture/queueSubject';
import type { StateIntent } from '../../torture/stateStoreSubject';
import { stateStoreSubject } from '../../torture/stateStoreSubject';
import { makeEntry, wasmPath } from '../history/historyFixtures';
import type { PowerSubject } from './powerLossCampaign';
import { IdleRunner } from '../../kit/idleRunner';

/** Small thresholds, so that cuts also land inside compactions. */
const compaction = { maxJournalBytes: 24 * 1024, maxJournalRecords: 30 };

function flatten(data: StateData): [string, string][] {
  const entries: [string, string][] = [];
  for (const [namespace, keys] of data) for (const [key, json] of keys) entries.push([`${namespace}\u0000${key}`, json]);
  return entries;
}

/** The StateStore: random sets, deletes and multi-key batches (all or nothing). */
export const statePowerSubject: PowerSubject<ReadonlyMap<string, string>, StateIntent> = {
  name: 'state',
  emptyModel: () => new Map(),
  apply: (model, intent) => stateStoreSubject.apply(model, intent),
  render: (model) => stateStoreSubject.render(model),
  async open(directory, onEvent) {
    const store = await StateStore.open({ directory, compaction, onEvent });
    return {
      read: async () => stateStoreSubject.render(new Map(flatten(store.durable?.state ?? new Map()))),
      next(id, random) {
        const count = random() < 0.3 ? 2 + Math.floor(random() * 4) : 1;
        const ops: [string, string, unknown][] = [];
        for (let index = 0; index < count; index++) {
          const value = random() < 0.2 ? null : { id, index, pad: 'p'.repeat(Math.floor(random() * 3000)) };
          ops.push([`ns${Math.floor(random() * 3)}`, `k${Math.floor(random() * 12)}`, value]);
        }
        const operations = ops.map(([namespace, key, value]) =>
          value === null ? { namespace, key, delete: true as const } : { namespace, key, value },
        );
        return { intent: { ops }, commit: () => store.batch(operations) };
      },
      maintain: async () => store.durable?.compact(),
      close: () => store.close(),
    };
  },
};

/** The job queue (JobQueue over DurableQueueLog, as the torture runs it): enqueues, cancels, priorities, clears. */
export const queuePowerSubject: PowerSubject<ReturnType<typeof queueSubject.emptyModel>, QueueIntent> = {
  name: 'queue',
  emptyModel: () => queueSubject.emptyModel(),
  apply: (model, intent) => queueSubject.apply(model, intent),
  render: (model) => queueSubject.render(model),
  async open(directory, onEvent) {
    const log = new DurableQueueLog({ directory: join(directory, 'queue'), compaction, onEvent });
    let queue: JobQueue;
    try {
      queue = await JobQueue.open({ log, runner: new IdleRunner(), baseDir: directory });
    } catch (error) {
      await log.close().catch(() => undefined);
      throw error;
    }
    // Not an intent: the flags are not part of the model, and a paused queue starts nothing.
    if (!queue.flags.paused) await queue.command({ type: 'setPaused', paused: true });
    return {
      read: async () =>
        queueSubject.render(new Map([...queue.state.jobs].map(([id, job]) => [id, { state: job.state, priority: job.priority }]))),
      next(id, random) {
        const waiting = [...queue.state.jobs.values()].filter((job) => job.state === 'queued');
        const pick = (): string =>
          waiting.length > 0 && random() < 0.9 ? (waiting[Math.floor(random() * waiting.length)]?.id as string) : `missing-${id}`;
        const roll = random();
        const priority = Math.floor(random() * 5) - 2;
        const intent: QueueIntent =
          // About as many cancels as enqueues, so that the queue stays small over thousands of cuts.
          roll < 0.32
            ? { op: 'enqueue', id: `j${id}`, priority }
            : roll < 0.68
              ? { op: 'cancel', id: pick() }
              : roll < 0.9
                ? { op: 'setPriority', id: pick(), priority }
                : { op: 'clearFinished' };
        const command: QueueCommand =
          intent.op === 'enqueue'
            ? {
                type: 'enqueue',
                jobId: intent.id,
                definition: { name: intent.id, command: `echo ${'p'.repeat(Math.floor(random() * 2000))}`, priority },
              }
            : intent.op === 'cancel'
              ? { type: 'cancel', jobId: intent.id }
              : intent.op === 'setPriority'
                ? { type: 'setPriority', jobId: intent.id, priority }
                : { type: 'clearFinished' };
        return { intent, commit: () => queue.execute({ commandId: `power-${id}`, command }) };
      },
      maintain: () => log.compact(),
      close: async (clean) => {
        if (clean) await queue.dispose();
        else await Promise.all([queue.dispose(), log.close()]);
      },
    };
  },
};

/** The job history: appends, compactions and archival into shards (small thresholds). */
export const historyPowerSubject: PowerSubject<readonly string[], string> = {
  name: 'history',
  emptyModel: () => [],
  apply: (model, jobId) => [...model, jobId],
  render: (model) => JSON.stringify([...model].sort()),
  async open(directory, onEvent) {
    const { history } = await JobHistory.open({
      directory,
      wasmPath,
      onStorageEvent: onEvent,
      maxActiveEntries: 12,
      archiveMargin: 4,
      archiveBatchSize: 8,
      compactAfterBytes: 16 * 1024,
    });
    return {
      async read() {
        const ids: string[] = [];
        let cursor: string | undefined;
        do {
          const page = history.page({ limit: 1000, cursor });
          ids.push(...page.entries.map((entry) => entry.jobId));
          cursor = page.nextCursor;
        } while (cursor);
        do {
          const page = await history.archivePage({ limit: 1000, cursor });
          ids.push(...page.entries.map((entry) => entry.entry.jobId));
          cursor = page.nextCursor;
        } while (cursor);
        return JSON.stringify(ids.sort());
      },
      next(id) {
        const jobId = `power-${String(id).padStart(7, '0')}`;
        return { intent: jobId, commit: () => history.append(makeEntry(id, { jobId })) };
      },
      maintain: async (random) => (random() < 0.5 ? history.compact() : history.archiveNow().then(() => undefined)),
      close: (clean) => history.close({ compact: clean }),
    };
  },
};
