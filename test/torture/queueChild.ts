import { DurableQueueLog } from '../../src/core/queue/durableQueueLog';
import { JobQueue } from '../../src/core/queue/jobQueue';
import type { QueueCommand } from '../../src/core/queue/jobModel';
import type { QueueIntent } from './queueSubject';
import { queueDirectory, queueTortureCompaction } from './queueSubject';
import { commitForever, runChild, seededRandom } from './tortureChild';
import { report } from './tortureHarness';
import { IdleRunner } from '../kit/idleRunner';

/**
 * The queue's torture child: random enqueues, cancels, re-prioritisations and clears, several in
 * flight at once (group commit, compaction), until the parent kills it. Never exits by itself.
 */
async function main(directory: string, round: number, firstId: number): Promise<void> {
  const random = seededRandom(round, 7);
  const queue = await JobQueue.open({
    log: new DurableQueueLog({ directory: queueDirectory(directory), compaction: queueTortureCompaction }),
    runner: new IdleRunner(),
    baseDir: directory,
  });
  // Not an intent: the flags are not part of the model, and a paused queue starts nothing.
  if (!queue.flags.paused) await queue.command({ type: 'setPaused', paused: true });
  report('R');
  await commitForever<QueueIntent>(firstId, 4, (commitId) => {
    const waiting = [...queue.state.jobs.values()].filter((job) => job.state === 'queued');
    const pick = (): string =>
      waiting.length > 0 && random() < 0.9 ? (waiting[Math.floor(random() * waiting.length)]?.id as string) : `missing-${commitId}`;
    const roll = random();
    const intent: QueueIntent =
      roll < 0.45
        ? { op: 'enqueue', id: `j${commitId}`, priority: Math.floor(random() * 5) - 2 }
        : roll < 0.7
          ? { op: 'cancel', id: pick() }
          : roll < 0.93
            ? { op: 'setPriority', id: pick(), priority: Math.floor(random() * 5) - 2 }
            : { op: 'clearFinished' };
    const command: QueueCommand =
      intent.op === 'enqueue'
        ? {
            type: 'enqueue',
            jobId: intent.id,
            definition: { name: intent.id, command: `echo ${'p'.repeat(Math.floor(random() * 800))}`, priority: intent.priority },
          }
        : intent.op === 'cancel'
          ? { type: 'cancel', jobId: intent.id }
          : intent.op === 'setPriority'
            ? { type: 'setPriority', jobId: intent.id, priority: intent.priority }
            : { type: 'clearFinished' };
    return { intent, commit: () => queue.execute({ commandId: `torture-${commitId}`, command }) };
  });
}

runChild('queue torture child', main);
