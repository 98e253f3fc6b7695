import { randomUUID } from 'node:crypto';
import { promises as nodeFs } from 'node:fs';
import type { Clock } from '../clock';
import { systemClock } from '../clock';
import type { Disposable } from '../emitter';
import type { Logger } from '../logger';
import type { AuditOrigin, CommandAudit } from '../queue/jobModel';
import type { QueueSession } from '../session/queueSession';
import type { AuditEntry } from './auditFile';
import { AuditFile } from './auditFile';

/** An action to record: everything but the id and the time, which the log adds. */
export type AuditAction = Omit<AuditEntry, 'id' | 'at' | 'origin'> & { readonly origin?: AuditOrigin };

export interface RuntimeAuditOptions {
  readonly directory: string;
  readonly queue: QueueSession;
  /** Who this process's own actions come from when `record` is not told. */
  readonly origin: AuditOrigin;
  readonly logger: Logger;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default 2 MiB (AuditFile) */
  readonly maxBytes?: number;
  /** Queue commands wait at most this long for the file. @default 200 */
  readonly flushDelayMs?: number;
}

/** Queue commands are copied to the file once this many are waiting, or after {@link FLUSH_DELAY_MS}. */
const FLUSH_BATCH = 64;
const FLUSH_DELAY_MS = 200;

/**
 * The audit log of a workspace (docs/audit.md): every state-changing action with when and who.
 *
 * Queue commands cost the queue nothing extra on the way to their acknowledgement: their audit
 * record is part of the command's own journal record, on disk with the change (JobQueue). The
 * queue also keeps the newest of them (QueueState's AUDIT_WINDOW) in its state and snapshot, and this
 * service, in the process that holds the queue, copies them to the audit file in batches; when it
 * takes the queue it first completes the file from the queue's copy, so a command acknowledged
 * just before a crash or a power cut is in the log after the next open.
 * Other actions (backups, cleanup) are written with `record`, which resolves once the entry is
 * on disk: their callers acknowledge after it.
 */
export class RuntimeAudit {
  readonly file: AuditFile;
  private readonly clock: Clock;
  private pending: AuditEntry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private subscription: Disposable | undefined;
  private readonly roleSubscription: Disposable;
  private ready: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: RuntimeAuditOptions) {
    this.clock = options.clock ?? systemClock;
    this.file = new AuditFile({ directory: options.directory, maxBytes: options.maxBytes });
    // The holder's JobQueue, also when a restore reopens it under the same role.
    this.roleSubscription = options.queue.onDidChangeLocalQueue(() => this.follow());
    this.follow();
  }

  /** The origin `record` uses when not told. */
  get origin(): AuditOrigin {
    return this.options.origin;
  }

  private follow(): void {
    this.subscription?.dispose();
    this.subscription = undefined;
    const queue = this.options.queue.localQueue;
    if (!queue || this.closed) return;
    this.subscription = queue.onDidAudit(({ id, audit }) => this.enqueue(toEntry(id, audit)));
    // Taken now, before this process runs a command as the holder: every record in it is on disk
    // (a later one is still in flight, and reaches the file through onDidAudit once it is).
    const committed = [...queue.state.audit];
    this.ready = this.ready.then(() => this.complete(committed));
  }

  /** Appends the queue's audit records the file does not have: those a crash kept from it. */
  private async complete(committed: readonly [string, CommandAudit][]): Promise<void> {
    try {
      const known = await this.file.recentIds();
      const missing = committed.filter(([id]) => !known.has(id));
      if (missing.length === 0) return;
      await this.file.append(missing.map(([id, audit]) => toEntry(id, audit)));
      this.options.logger.info(
        `[audit] ${missing.length} acknowledged command(s) were missing from the audit log and were added from the queue`,
      );
    } catch (error) {
      this.options.logger.warn(`[audit] could not complete the audit log from the queue: ${String(error)}`);
    }
  }

  private enqueue(entry: AuditEntry): void {
    this.pending.push(entry);
    if (this.pending.length >= FLUSH_BATCH) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.options.flushDelayMs ?? FLUSH_DELAY_MS);
  }

  /** Writes the queue commands waiting for the file; resolves once they are on disk. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.ready;
    const entries = this.pending;
    this.pending = [];
    if (entries.length === 0) return this.file.whenIdle();
    await this.file
      .append(entries, { rotate: this.options.queue.role === 'holder' })
      .catch((error: unknown) =>
        this.options.logger.warn(
          `[audit] could not write ${entries.length} entry(ies) to the audit log (the queue keeps them): ${String(error)}`,
        ),
      );
  }

  /**
   * Records an action that is not a queue command (a backup, a cleanup); resolves once it is on
   * disk, so call it before telling anyone the action is done. Rejects when it cannot be written.
   */
  async record(action: AuditAction): Promise<AuditEntry> {
    const entry: AuditEntry = { ...action, id: randomUUID(), at: this.clock.now(), origin: action.origin ?? this.options.origin };
    await this.file.append([entry], { rotate: this.options.queue.role === 'holder' });
    return entry;
  }

  /** The newest `limit` entries, newest first, including queue commands not yet copied to the file. */
  async recent(limit: number): Promise<AuditEntry[]> {
    // After the completion from the queue, so that a command acknowledged before a crash is there.
    await this.ready;
    const entries = [...(await this.file.read()), ...this.pending];
    return entries
      .sort((a, b) => a.at - b.at)
      .slice(-Math.max(0, limit))
      .reverse();
  }

  /** Writes every entry, oldest first, as JSON lines to `path`; returns how many. */
  async exportTo(path: string): Promise<number> {
    await this.flush();
    const entries = (await this.file.read()).sort((a, b) => a.at - b.at);
    await nodeFs.writeFile(path, entries.map((entry) => JSON.stringify(entry) + '\n').join(''), { mode: 0o600 });
    return entries.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.roleSubscription.dispose();
    await this.flush();
    this.subscription?.dispose();
  }
}

function toEntry(id: string, audit: CommandAudit): AuditEntry {
  return { id, ...audit };
}
