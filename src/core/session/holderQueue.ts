import { join } from 'node:path';
import type { Disposable } from '../emitter';
import type { Logger } from '../logger';
import { DurableQueueLog } from '../queue/durableQueueLog';
import { JobQueue } from '../queue/jobQueue';
import type { QueueEvent } from '../queue/jobQueue';
import type { JobRunner } from '../queue/jobRunner';
import type { Lease } from '../../shared/supervisor/node/leaseFile';
import { FencedQueueLog } from './fencedQueueLog';
import type { QueueSessionOptions } from './queueSession';
import { QueueServer } from './queueServer';

/** What the process that holds the lease has open: the queue, its runner, its socket. */
export interface HolderQueue {
  readonly queue: JobQueue;
  readonly runner: JobRunner;
  readonly server: QueueServer;
  readonly subscription: Disposable;
}

/**
 * Opens the queue (its log fenced by the lease: nothing is written once `stillHolder` says no),
 * its runner and its socket under `lease`; everything opened is closed again on failure.
 */
export async function openHolderQueue(
  options: QueueSessionOptions,
  lease: Lease,
  deps: { readonly logger: Logger; readonly stillHolder: () => boolean; readonly onEvent: (event: QueueEvent) => void },
): Promise<HolderQueue> {
  let runner: JobRunner | undefined;
  let queue: JobQueue | undefined;
  try {
    runner = options.createRunner();
    const queueDir = join(options.storageDir, 'queue');
    const inner = options.createLog ? options.createLog(queueDir) : new DurableQueueLog({ directory: queueDir, logger: deps.logger });
    queue = await JobQueue.open({
      log: new FencedQueueLog(inner, deps.stillHolder),
      runner,
      clock: options.clock,
      logger: deps.logger,
      baseDir: options.baseDir,
      random: options.random,
    });
    const server = await QueueServer.listen(lease.socketPath, lease.token, queue, deps.logger, {}, options.services);
    const subscription = queue.onDidChange(deps.onEvent);
    return { queue, runner, server, subscription };
  } catch (error) {
    await queue?.dispose().catch(() => undefined);
    await runner?.dispose().catch(() => undefined);
    throw error;
  }
}

/** Closes what openHolderQueue opened, the queue aside (the caller disposes it first: commands in flight finish). */
export async function closeHolderQueue(holder: HolderQueue): Promise<void> {
  holder.subscription.dispose();
  await holder.server.close();
  await holder.runner.dispose();
}
