import { fsp as fs } from './storageFs';
import type { Clock } from '../clock';
import { systemClock } from '../clock';
import type { Logger } from '../logger';
import { nullLogger } from '../logger';

export interface AuditEntry {
  /** Milliseconds since the epoch. */
  readonly at: number;
  /** Which store, e.g. `state`, `queue`. */
  readonly store: string;
  /** What happened, e.g. `set`, `batch`, `compact`, `restore`, `quarantine`, `migrate`. */
  readonly action: string;
  readonly detail?: Record<string, unknown>;
}

/** Where state-changing operations are recorded. `MemoryAuditLog` is its in-memory twin. */
export interface AuditSink {
  record(entry: Omit<AuditEntry, 'at'>): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface AuditLogOptions {
  readonly path: string;
  readonly logger?: Logger;
  /** When the file passes this size it is renamed to `<path>.1` (one old file kept). @default 4 MiB */
  readonly maxBytes?: number;
  /** Entries are written at most this long after they are recorded. @default 1000 */
  readonly flushDelayMs?: number;
  /** Stamps each entry. @default systemClock */
  readonly clock?: Clock;
}

/**
 * An append-only JSON-lines log of state-changing operations. Entries are buffered and written in
 * the background, never fsynced per entry: the audit trail must not double the cost of a commit,
 * and the store itself, not the log, is what must survive a crash.
 */
export class AuditLog implements AuditSink {
  private buffer: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private size: number | undefined;
  private readonly maxBytes: number;
  private readonly clock: Clock;

  constructor(private readonly options: AuditLogOptions) {
    this.maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
    this.clock = options.clock ?? systemClock;
  }

  record(entry: Omit<AuditEntry, 'at'>): void {
    this.buffer.push(JSON.stringify({ at: this.clock.now(), ...entry }));
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.options.flushDelayMs ?? 1000);
      this.timer.unref();
    }
  }

  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const lines = this.buffer;
    this.buffer = [];
    if (lines.length > 0) this.writing = this.writing.then(() => this.write(lines));
    return this.writing;
  }

  async close(): Promise<void> {
    await this.flush();
  }

  private async write(lines: string[]): Promise<void> {
    const text = lines.join('\n') + '\n';
    try {
      if (this.size === undefined) {
        this.size = await fs.stat(this.options.path).then(
          (stat) => stat.size,
          () => 0,
        );
      }
      if (this.size + text.length > this.maxBytes && this.size > 0) {
        await fs.rename(this.options.path, `${this.options.path}.1`);
        this.size = 0;
      }
      await fs.appendFile(this.options.path, text, { mode: 0o600 });
      this.size += Buffer.byteLength(text);
    } catch (error) {
      // The audit trail is best effort: a full disk must not fail the operation it describes.
      (this.options.logger ?? nullLogger).warn(`[audit] could not write the audit log: ${(error as Error).message}`);
    }
  }
}

/** Reads an audit log (both files, oldest first), skipping a torn last line. */
export async function readAuditLog(path: string): Promise<AuditEntry[]> {
  const entries: AuditEntry[] = [];
  for (const file of [`${path}.1`, path]) {
    const text = await fs.readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        entries.push(JSON.parse(line) as AuditEntry);
      } catch {
        // torn line from a crash mid-append
      }
    }
  }
  return entries;
}

export class MemoryAuditLog implements AuditSink {
  readonly entries: AuditEntry[] = [];
  constructor(private readonly clock: Clock = systemClock) {}
  record(entry: Omit<AuditEntry, 'at'>): void {
    this.entries.push({ at: this.clock.now(), ...entry });
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}
