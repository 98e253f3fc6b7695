import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { basename } from 'node:path';
import type { Logger } from '../logger';
import { nullLogger } from '../logger';
import type { Clock } from '../clock';
import { Emitter } from '../emitter';
import { closeHolderQueue, openHolderQueue } from './holderQueue';
import type { HolderQueue } from './holderQueue';
import { performance } from 'node:perf_hooks';
import { JobError } from '../queue/jobErrors';
import type { AuditOrigin, CommandResult, Job, QueueCommand, QueueFlags } from '../queue/jobModel';
import { compareJobs } from '../queue/jobModel';
import type { JobQueue } from '../queue/jobQueue';
import type { QueueEvent } from '../queue/jobQueue';
import type { JobRunner } from '../queue/jobRunner';
import type { Lease } from '../../shared/supervisor/node/leaseFile';
import { readLeaseSync, StalenessObserver } from '../../shared/supervisor/node/leaseFile';
import { DEFAULT_LEASE_STALE_AFTER_MS, newLease, readLease, refreshLease, removeLease, takeOverLease, tryCreateLease } from './lease';
import type { QueueLog } from '../queue/queueLog';
import { QueueClient } from './queueClient';
import { socketPathFor } from './socketPath';
import type { SessionServices } from './sessionServices';
import { ServiceError } from './sessionServices';
import { SessionRequests } from './sessionRequests';

export interface QueueSessionOptions {
  /** The workspace's storage folder; the queue lives in `<storageDir>/queue/`, the lease beside it. */
  readonly storageDir: string;
  /** Called each time this process becomes the holder. */
  readonly createRunner: () => JobRunner;
  /** @default a DurableQueueLog (the storage core) in `<storageDir>/queue` */
  readonly createLog?: (queueDir: string) => QueueLog;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly baseDir?: string;
  readonly random?: () => number;
  /** @default 1000 */
  readonly heartbeatMs?: number;
  /** A heartbeat older than this makes the lease stale. @default DEFAULT_LEASE_STALE_AFTER_MS (5000) */
  readonly staleAfterMs?: number;
  /** How long to wait for a lease marked releasing before taking it anyway. @default 3000 */
  readonly releaseWaitMs?: number;
  /** @default $XDG_RUNTIME_DIR or <tmp>/lifeline-<uid> */
  readonly socketDir?: string;
  /** Who this process's commands come from when `execute` is not told (the audit log). */
  readonly origin?: AuditOrigin;
  /** Services this process answers while it holds the queue, for itself and its clients (see {@link QueueSession.request}). */
  readonly services?: SessionServices;
}

export type SessionRole = 'holder' | 'client' | 'connecting' | 'disposed';

/** Queue events, plus `reset` when the whole view was replaced (this session changed role). */
export type SessionEvent = QueueEvent | { readonly type: 'reset' };

interface Holder extends HolderQueue {
  readonly lease: Lease;
  readonly heartbeat: NodeJS.Timeout;
}

interface PendingCommand {
  readonly command: QueueCommand;
  readonly origin: AuditOrigin | undefined;
  readonly resolve: (result: CommandResult) => void;
  readonly reject: (error: unknown) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One process's view of the queue of a storage folder. Exactly one session per folder holds the
 * lease: it writes the queue, schedules and serves the socket. Every other session is a client of
 * it, and takes the lease over when the holder releases it or dies. Commands wait in this session
 * until answered, and are sent again, with the same command id, to whoever holds the lease next,
 * so each has exactly one effect.
 */
export class QueueSession {
  private roleValue: SessionRole = 'connecting';
  private holder: Holder | undefined;
  private client: QueueClient | undefined;
  private clientWatch: NodeJS.Timeout | undefined;
  private readonly pending = new Map<string, PendingCommand>();
  private readonly requests = new SessionRequests(() =>
    this.holder
      ? { kind: 'local', services: this.options.services ?? {} }
      : this.client
        ? { kind: 'client', client: this.client }
        : undefined,
  );
  /** A service's announcement, from this process's own services while holder, or from the holder's. */
  readonly onDidNotice = this.requests.onDidNotice;
  private readonly eventEmitter = new Emitter<SessionEvent>();
  readonly onDidChange = this.eventEmitter.event;
  private readonly roleEmitter = new Emitter<SessionRole>();
  private readonly localQueueEmitter = new Emitter<JobQueue | undefined>();
  /**
   * Fires when {@link localQueue} becomes another JobQueue (this process took the queue, reopened
   * it around a restore) or none (it stepped down). Whatever follows the holder's queue itself
   * (its saving status, its audit records) follows this, not the role: a reopen keeps the role.
   */
  readonly onDidChangeLocalQueue = this.localQueueEmitter.event;
  readonly onDidChangeRole = this.roleEmitter.event;
  private establishing: Promise<void> | undefined;
  /** Set while the holder's queue is closed and opened again (reopenQueue): commands wait. */
  private reopening = false;
  private reopenRun: Promise<void> | undefined;
  private beating = false;
  /** performance.now() of the last heartbeat that found the lease still ours. */
  private lastBeat = 0;
  private lastJobs: Job[] = [];
  private lastFlags: QueueFlags | undefined;
  private readonly logger: Logger;

  /** One per session, so that time spent watching a hung holder as a client counts toward taking it over. */
  private readonly observer: StalenessObserver;

  private constructor(private readonly options: QueueSessionOptions) {
    this.logger = options.logger ?? nullLogger;
    this.observer = new StalenessObserver(options.staleAfterMs ?? DEFAULT_LEASE_STALE_AFTER_MS);
  }

  static async open(options: QueueSessionOptions): Promise<QueueSession> {
    const session = new QueueSession(options);
    await session.establish();
    return session;
  }

  get role(): SessionRole {
    return this.roleValue;
  }

  get jobs(): Job[] {
    if (this.holder) return this.holder.queue.jobs;
    if (this.client) return [...this.client.jobs.values()].sort(compareJobs);
    return this.lastJobs;
  }

  get flags(): QueueFlags | undefined {
    return this.holder?.queue.flags ?? this.client?.flags ?? this.lastFlags;
  }

  getJob(id: string): Job | undefined {
    // As `jobs`: the jobs last seen only while neither holder nor client (a reopen leaves them behind).
    if (this.holder) return this.holder.queue.getJob(id);
    if (this.client) return this.client.jobs.get(id);
    return this.lastJobs.find((job) => job.id === id);
  }

  /** Commands sent but not yet answered. */
  get pendingCommands(): number {
    return this.pending.size;
  }

  /** The holder's queue, when this session holds the lease. */
  get localQueue(): JobQueue | undefined {
    return this.holder?.queue;
  }

  /**
   * Runs a command through the holder; pass your own id to make a resend safe. `origin` (who asked,
   * for the audit log) defaults to the session's.
   */
  execute(
    command: QueueCommand,
    commandId: string = randomUUID(),
    origin: AuditOrigin | undefined = this.options.origin,
  ): Promise<CommandResult> {
    if (this.roleValue === 'disposed') return Promise.reject(new JobError('disposed', 'The queue session is closed.'));
    return new Promise((resolve, reject) => {
      this.pending.set(commandId, { command, origin, resolve, reject });
      this.dispatch(commandId);
    });
  }

  /**
   * Asks a service of whoever holds the queue: this process's own handler while it holds it, the
   * holder's over the socket otherwise. Like a command, a request waits while no one holds the
   * queue and is sent again to the next holder when the one asked stepped down before answering
   * (it said {@link NOT_HOLDER}, or the connection ended): a service's requests must be safe to repeat.
   */
  request(service: string, body: unknown): Promise<unknown> {
    if (this.roleValue === 'disposed') return Promise.reject(new ServiceError('disposed', 'The queue session is closed.'));
    return this.requests.request(service, body);
  }

  /** Announces to this process and every client (only the holder's services announce). */
  notice(service: string, body: unknown): void {
    if (!this.holder) return;
    this.holder.server.notice(service, body);
    this.requests.fireNotice({ service, body });
  }

  private setRole(role: SessionRole): void {
    if (this.roleValue === role) return;
    this.roleValue = role;
    this.roleEmitter.fire(role);
  }

  private dispatch(commandId: string): void {
    const entry = this.pending.get(commandId);
    if (!entry) return;
    if (this.reopening) return; // sent once the queue is open again
    if (this.holder) {
      this.holder.queue.execute({ commandId, command: entry.command, origin: entry.origin }).then(
        (result) => this.answer(commandId, { ok: true, result }),
        (error: unknown) => this.answer(commandId, { ok: false, error }),
      );
    } else if (this.client) {
      this.client.send(commandId, entry.command, entry.origin);
    }
    // Otherwise it waits for the next holder or connection, which sends every pending command.
  }

  private answer(commandId: string, outcome: { ok: true; result: CommandResult } | { ok: false; error: unknown }): void {
    const entry = this.pending.get(commandId);
    if (!entry) return;
    // A holder that is shutting down or lost the lease did not apply it: the next holder will.
    if (
      !outcome.ok &&
      (JobError.is(outcome.error, 'disposed') || JobError.is(outcome.error, 'leaseLost')) &&
      this.roleValue !== 'disposed'
    ) {
      return;
    }
    this.pending.delete(commandId);
    if (outcome.ok) entry.resolve(outcome.result);
    else entry.reject(outcome.error);
  }

  /** Becomes holder or client, whichever the lease allows; retries until one works. */
  private establish(): Promise<void> {
    this.establishing ??= this.runEstablish().finally(() => (this.establishing = undefined));
    return this.establishing;
  }

  private async runEstablish(): Promise<void> {
    const releaseWaitMs = this.options.releaseWaitMs ?? 3000;
    let releasingSince: number | undefined;
    const observer = this.observer;
    this.setRole('connecting');
    while (this.roleValue !== 'disposed') {
      const lease = await readLease(this.options.storageDir);
      if (!lease) {
        if (await this.becomeHolder(undefined)) return;
        continue;
      }
      if (observer.isStale(lease)) {
        if (await this.becomeHolder(lease)) return;
      } else if (lease.state === 'releasing') {
        releasingSince ??= Date.now();
        // A holder that said it was releasing but never finished is taken over after the wait.
        if (Date.now() - releasingSince > releaseWaitMs && (await this.becomeHolder(lease))) return;
      } else {
        try {
          this.becomeClient(await QueueClient.connect(lease.socketPath, lease.token));
          return;
        } catch {
          // The holder may not listen yet: it takes the lease before it opens the queue.
        }
      }
      await sleep(25);
    }
  }

  private async becomeHolder(previous: Lease | undefined): Promise<boolean> {
    const { storageDir } = this.options;
    const lease = newLease((activationId) => socketPathFor(storageDir, activationId, this.options.socketDir));
    const taken = previous
      ? await takeOverLease(storageDir, previous, lease, this.options.staleAfterMs ?? DEFAULT_LEASE_STALE_AFTER_MS)
      : await tryCreateLease(storageDir, lease);
    if (!taken) return false;
    // The socket of a holder that died is left behind: remove it, but only a socket of ours.
    if (
      previous &&
      process.platform !== 'win32' &&
      basename(previous.socketPath).startsWith('lifeline-') &&
      previous.socketPath.endsWith('.sock')
    ) {
      await fs.rm(previous.socketPath, { force: true }).catch(() => undefined);
    }
    if (this.roleValue === 'disposed') {
      await removeLease(storageDir, lease);
      return true;
    }
    try {
      const opened = await this.openQueue(lease);
      const heartbeat = setInterval(() => void this.beat(), this.options.heartbeatMs ?? 1000);
      this.holder = { lease, heartbeat, ...opened };
      this.localQueueEmitter.fire(opened.queue);
    } catch (error) {
      await removeLease(storageDir, lease);
      throw error;
    }
    this.logger.info(`[queueSession] holds the lease of ${storageDir} (activation ${lease.activationId})`);
    this.setRole('holder');
    this.eventEmitter.fire({ type: 'reset' });
    for (const commandId of this.pending.keys()) this.dispatch(commandId);
    this.requests.dispatchAll();
    return true;
  }

  /** Opens the queue, its runner and its socket under `lease`; everything opened is closed again on failure. */
  private openQueue(lease: Lease): Promise<HolderQueue> {
    this.lastBeat = performance.now();
    return openHolderQueue(this.options, lease, {
      logger: this.logger,
      stillHolder: () => this.stillHolder(lease),
      onEvent: (event) => this.eventEmitter.fire(event),
    });
  }

  /**
   * Whether this process holds the lease at this moment, not just by its last heartbeat: the fence
   * before a write to a store only the holder writes (the queue's FencedQueueLog, the state store).
   */
  holdsLeaseNow(): boolean {
    return this.holder !== undefined && this.stillHolder(this.holder.lease);
  }

  /** Cheap while heartbeats are on time; when one is late, the lease file decides. */
  private stillHolder(lease: Lease): boolean {
    if (performance.now() - this.lastBeat < (this.options.staleAfterMs ?? DEFAULT_LEASE_STALE_AFTER_MS) / 2) return true;
    return readLeaseSync(this.options.storageDir)?.activationId === lease.activationId;
  }

  private async beat(): Promise<void> {
    const holder = this.holder;
    if (!holder || this.beating) return;
    this.beating = true;
    try {
      holder.lease.heartbeatAt = Date.now();
      const ours = await refreshLease(this.options.storageDir, holder.lease);
      if (ours) this.lastBeat = performance.now();
      else if (this.holder === holder) {
        this.logger.warn('[queueSession] lost the lease (another process took it over): becoming a client');
        await this.stepDown(false);
        void this.establish().catch((error: unknown) => this.logger.error(`[queueSession] ${String(error)}`));
      }
    } catch (error) {
      this.logger.warn(`[queueSession] heartbeat failed: ${String(error)}`);
    } finally {
      this.beating = false;
    }
  }

  private becomeClient(client: QueueClient): void {
    this.client = client;
    client.onDidChange((event) => this.eventEmitter.fire(event));
    client.onDidAnswer(({ commandId, outcome }) => this.answer(commandId, outcome));
    client.onDidClose(() => this.lostHolder(client));
    client.onDidReply(({ requestId, outcome }) =>
      this.requests.answer(requestId, outcome.ok ? outcome : { ok: false, error: outcome.error }),
    );
    client.onDidNotice((notice) => this.requests.fireNotice(notice));
    // A holder that hangs keeps its socket open: watch its heartbeat too.
    const observer = this.observer;
    this.clientWatch = setInterval(() => {
      void readLease(this.options.storageDir).then((lease) => {
        if (!lease || lease.token !== client.token || observer.isStale(lease)) this.lostHolder(client);
      });
    }, this.options.heartbeatMs ?? 1000);
    this.setRole('client');
    this.eventEmitter.fire({ type: 'reset' });
    for (const commandId of this.pending.keys()) this.dispatch(commandId);
    this.requests.dispatchAll();
  }

  private lostHolder(client: QueueClient): void {
    if (this.client !== client) return;
    this.lastJobs = this.jobs;
    this.lastFlags = this.flags;
    this.client = undefined;
    clearInterval(this.clientWatch);
    client.dispose();
    if (this.roleValue === 'disposed') return;
    void this.establish().catch((error: unknown) =>
      this.logger.error(`[queueSession] could not reach or become the holder: ${String(error)}`),
    );
  }

  /**
   * Closes the holder's queue, its socket and its runner (running jobs stay with their detached
   * supervisors, as in a takeover), runs `install` on the closed queue folder, then opens the queue
   * again with a new runner, which adopts the jobs still running: what a takeover does, without
   * giving up the lease (the heartbeat goes on, so no client takes over meanwhile). Commands wait
   * and are sent once it is open again; clients reconnect to the same socket; listeners get a
   * `reset`. `install` gets the jobs and flags as the queue last had them. When `install` fails
   * the queue still opens again (on whatever the folder holds) and the error is rethrown.
   */
  async reopenQueue(install: (before: { readonly jobs: readonly Job[]; readonly flags: QueueFlags }) => Promise<void>): Promise<void> {
    const holder = this.holder;
    if (!holder || this.reopening) {
      throw new JobError('invalidState', 'Only the process that holds the queue can reopen it, one reopen at a time.');
    }
    this.reopening = true;
    this.reopenRun = this.runReopen(holder, install);
    try {
      await this.reopenRun;
    } finally {
      this.reopenRun = undefined;
    }
  }

  private async runReopen(
    holder: Holder,
    install: (before: { readonly jobs: readonly Job[]; readonly flags: QueueFlags }) => Promise<void>,
  ): Promise<void> {
    let failure: unknown;
    try {
      // Commands in flight finish first; the stores then have one writer again: `install`.
      await holder.queue.dispose();
      await closeHolderQueue(holder);
      this.lastJobs = holder.queue.jobs;
      this.lastFlags = holder.queue.flags;
      try {
        await install({ jobs: this.lastJobs, flags: holder.queue.flags });
      } catch (error) {
        failure = error;
      }
      const opened = await this.openQueue(holder.lease);
      this.holder = { ...holder, ...opened };
      this.localQueueEmitter.fire(opened.queue);
    } catch (error) {
      // The queue could not open again: give the lease up, so this or another process opens it afresh.
      this.holder = undefined;
      this.localQueueEmitter.fire(undefined);
      clearInterval(holder.heartbeat);
      await removeLease(this.options.storageDir, holder.lease).catch(() => undefined);
      this.reopening = false;
      this.logger.error(`[queueSession] the queue did not open again after a reopen: ${String(error)}`);
      if (this.roleValue !== 'disposed') {
        void this.establish().catch((next: unknown) => this.logger.error(`[queueSession] ${String(next)}`));
      }
      throw error;
    }
    this.reopening = false;
    this.logger.info(`[queueSession] reopened the queue with ${this.holder.queue.jobs.length} job(s)`);
    this.eventEmitter.fire({ type: 'reset' });
    for (const commandId of this.pending.keys()) this.dispatch(commandId);
    if (failure !== undefined) throw failure;
  }

  /** Stops being the holder; with `release`, marks the lease releasing first and removes it after. */
  private async stepDown(release: boolean): Promise<void> {
    const holder = this.holder;
    if (!holder) return;
    this.lastJobs = holder.queue.jobs;
    this.lastFlags = holder.queue.flags;
    clearInterval(holder.heartbeat);
    if (release) {
      holder.lease.state = 'releasing';
      await refreshLease(this.options.storageDir, holder.lease).catch(() => false);
      holder.server.announceRelease();
    }
    // Commands still in flight finish and are answered before the socket closes.
    await holder.queue.dispose();
    this.holder = undefined;
    this.localQueueEmitter.fire(undefined);
    await closeHolderQueue(holder);
    if (release) await removeLease(this.options.storageDir, holder.lease);
  }

  /** Releases the lease (a client takes over at once) or disconnects; rejects unanswered commands. */
  async dispose(): Promise<void> {
    if (this.roleValue === 'disposed') return;
    this.roleValue = 'disposed';
    await this.establishing?.catch(() => undefined);
    await this.reopenRun?.catch(() => undefined);
    await this.stepDown(true);
    if (this.client) {
      clearInterval(this.clientWatch);
      const client = this.client;
      this.client = undefined;
      client.dispose();
    }
    for (const [commandId, entry] of this.pending) {
      this.pending.delete(commandId);
      entry.reject(new JobError('disposed', 'The queue session closed before the command was answered.'));
    }
    this.requests.dispose();
    this.roleEmitter.fire('disposed');
    this.eventEmitter.dispose();
    this.roleEmitter.dispose();
    this.localQueueEmitter.dispose();
  }
}
