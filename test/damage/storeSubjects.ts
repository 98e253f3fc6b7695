import { DurableQueueLog, queueCodec } from '../../src/core/queue/durableQueueLog';
import type { QueueCommand } from '../../src/core/queue/jobModel';
import { JobQueue } from '../../src/core/queue/jobQueue';
import type { QueueState } from '../../src/core/queue/queueState';
import type { RecordCipher } from '../../src/core/storage/cipher';
import type { DurableStore } from '../../src/core/storage/durableStore';
import type { StateData } from '../../src/core/storage/stateCodec';
import { StateStore } from '../../src/core/storage/stateStore';
import type { StorageEvent } from '../../src/core/storage/storeEvents';
import { seededRandom } from './damageKinds';
import { readImage } from './image';
import type { DamageSubject, Fixture, Mode } from './verdict';
import { judgeSequenced } from './verdict';
import { IdleRunner } from '../kit/idleRunner';

function renderState(data: StateData): string {
  return JSON.stringify(
    [...data]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([namespace, entries]) => [namespace, [...entries].sort(([a], [b]) => a.localeCompare(b))]),
  );
}

function renderQueue(state: QueueState): string {
  return JSON.stringify(
    [...state.jobs.values()].map((job) => [job.id, job.state, job.priority, job.name]).sort(([a], [b]) => (String(a) < String(b) ? -1 : 1)),
  );
}

/** Records the rendered state after every acknowledged commit, by sequence number (0: the empty store). */
class Ledger {
  readonly states = new Map<number, string>();
  constructor(
    empty: string,
    private readonly read: () => { sequence: number; rendered: string },
  ) {
    this.states.set(0, empty);
    this.note();
  }
  note(): void {
    const { sequence, rendered } = this.read();
    this.states.set(sequence, rendered);
  }
}

/**
 * The StateStore: sets, deletes and a batch, a compaction half way (so there are a snapshot and a
 * journal of a later generation), then more sets. A crash image is copied while the store is open,
 * after one more commit that is not counted as acknowledged (the in-flight last batch).
 */
export function stateStoreSubject(cipher?: RecordCipher): DamageSubject {
  return {
    name: cipher ? 'state+key' : 'state',
    async populate(directory: string, mode: Mode, variant: number): Promise<Fixture> {
      const store = await StateStore.open({ directory, compaction: false, cipher, compress: cipher !== undefined });
      const durable = store.durable as DurableStore<StateData, unknown>;
      const ledger = new Ledger(renderState(new Map()), () => ({ sequence: durable.sequence, rendered: renderState(durable.state) }));
      const random = seededRandom(variant + 11);
      for (let index = 0; index < 10; index++) {
        await store.set('a', `k${index}`, { index, text: 'x'.repeat(Math.floor(random() * 40)), variant });
        ledger.note();
      }
      await durable.compact();
      await store.batch([
        { namespace: 'a', key: 'k1', delete: true },
        { namespace: 'b', key: 'batched', value: [1, 2, variant] },
      ]);
      ledger.note();
      for (let index = 0; index < 12; index++) {
        if (index % 5 === 4) await store.delete('a', `k${index}`);
        else await store.set('b', `j${index}`, 'y'.repeat(Math.floor(random() * 30)));
        ledger.note();
      }
      const acknowledged = durable.sequence;
      if (mode === 'crash') {
        await store.set('b', 'inflight', 'never acknowledged');
        ledger.note();
      }
      // A clean close first (it may write what marks it clean); a crash image is taken with the store still open.
      if (mode === 'clean') await store.close();
      const image = readImage(directory);
      return {
        image,
        journals: new Set([...image.keys()].filter((file) => file.endsWith('.journal'))),
        open: async (trialDirectory) => {
          const events: StorageEvent[] = [];
          const opened = await StateStore.open({
            directory: trialDirectory,
            compaction: false,
            cipher,
            onEvent: (event) => events.push(event),
          });
          try {
            const result = judgeSequenced(
              renderState((opened.durable as DurableStore<StateData, unknown>).state),
              events,
              ledger.states,
              acknowledged,
              mode === 'crash',
            );
            await opened.set('after', 'open', 1); // usable after any recovery
            return result;
          } finally {
            await opened.close();
          }
        },
        dispose: () => store.close(),
      };
    },
  };
}

/** The job queue (JobQueue over DurableQueueLog, as the session's holder runs it): enqueues, cancels, priorities, a clear. */
export const queueSubject: DamageSubject = {
  name: 'queue',
  async populate(directory: string, mode: Mode, variant: number): Promise<Fixture> {
    const log = new DurableQueueLog({ directory, compaction: false });
    const queue = await JobQueue.open({ log, runner: new IdleRunner(), baseDir: directory });
    const durable = log.durableStore as DurableStore<QueueState, unknown>;
    const ledger = new Ledger(renderQueue(queueCodec.empty()), () => ({
      sequence: durable.sequence,
      rendered: renderQueue(durable.state),
    }));
    const random = seededRandom(variant + 29);
    let next = 0;
    const run = async (command: QueueCommand): Promise<void> => {
      const before = durable.sequence;
      await queue.execute({ commandId: `damage-${variant}-${next++}`, command });
      if (durable.sequence > before + 1) throw new Error(`one command wrote ${durable.sequence - before} records; the ledger needs one`);
      ledger.note();
    };
    const enqueue = (id: number): QueueCommand => ({
      type: 'enqueue',
      jobId: `j${variant}-${id}`,
      definition: { name: `job ${id}`, command: `echo ${'p'.repeat(Math.floor(random() * 200))}`, priority: id % 3 },
    });
    if (!queue.flags.paused) await run({ type: 'setPaused', paused: true });
    for (let id = 0; id < 10; id++) await run(enqueue(id));
    await durable.compact();
    await run({ type: 'cancel', jobId: `j${variant}-2` });
    await run({ type: 'setPriority', jobId: `j${variant}-3`, priority: 2 });
    await run({ type: 'clearFinished' });
    for (let id = 10; id < 20; id++) await run(id % 4 === 3 ? { type: 'cancel', jobId: `j${variant}-${id - 1}` } : enqueue(id));
    const acknowledged = durable.sequence;
    if (mode === 'crash') await run(enqueue(99));
    // A clean close first (it may write what marks it clean); a crash image is taken with the store still open.
    if (mode === 'clean') await queue.dispose();
    const image = readImage(directory);
    return {
      image,
      journals: new Set([...image.keys()].filter((file) => file.endsWith('.journal'))),
      open: async (trialDirectory) => {
        const events: StorageEvent[] = [];
        const opened = new DurableQueueLog({ directory: trialDirectory, compaction: false, onEvent: (event) => events.push(event) });
        try {
          await opened.load();
          const state = (opened.durableStore as DurableStore<QueueState, unknown>).state;
          return judgeSequenced(renderQueue(state), events, ledger.states, acknowledged, mode === 'crash');
        } finally {
          await opened.close();
        }
      },
      dispose: () => queue.dispose(),
    };
  },
};
