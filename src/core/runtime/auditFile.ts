import { join } from 'node:path';
import { z } from 'zod';
import { mkdirDurable } from '../storage/atomicFile';
import { fsp as fs } from '../storage/storageFs';
import { auditOriginSchema } from '../queue/jobModel';

/** One state-changing action, as the audit log keeps and exports it (docs/audit.md). */
export const auditEntrySchema = z.object({
  /** The queue command's id, or a random id for other actions: an entry is written once per id. */
  id: z.string().min(1),
  /** Milliseconds since the epoch. */
  at: z.number(),
  /** A queue command's type (`enqueue`, `cancel`, …) or a dotted action (`backup.create`, `cleanup.run`). */
  action: z.string().min(1),
  /** Who asked; absent for a command from a process that did not say. */
  origin: auditOriginSchema.optional(),
  jobId: z.string().optional(),
  /** The job's name when the action was taken. */
  job: z.string().optional(),
  /** What else the action was about: a backup's file name, a folder… */
  target: z.string().optional(),
  detail: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
});
export type AuditEntry = z.infer<typeof auditEntrySchema>;

export interface AuditFileOptions {
  readonly directory: string;
  /** When the current file would pass this size it is rotated. @default 2 MiB */
  readonly maxBytes?: number;
  /** Rotated files kept (`audit.1.jsonl` the newest of them). @default 3 */
  readonly keepRotated?: number;
}

export const AUDIT_FILE_NAME = 'audit.jsonl';
export const DEFAULT_AUDIT_MAX_BYTES = 2 * 1024 * 1024;
export const DEFAULT_AUDIT_KEEP_ROTATED = 3;

/**
 * The audit log's files: JSON lines appended to `<directory>/audit.jsonl`, rotated to
 * `audit.1.jsonl` … `audit.<keepRotated>.jsonl` (the oldest dropped), so the log is bounded at
 * about (keepRotated + 1) × maxBytes. Appends are serialised in this process, and written with
 * O_APPEND, so a line from another process never lands inside one of ours. A line cut short by a
 * crash is skipped on read: it was never acknowledged.
 */
export class AuditFile {
  private tail: Promise<void> = Promise.resolve();
  private size: number | undefined;
  private readonly maxBytes: number;
  private readonly keepRotated: number;

  constructor(private readonly options: AuditFileOptions) {
    this.maxBytes = options.maxBytes ?? DEFAULT_AUDIT_MAX_BYTES;
    this.keepRotated = options.keepRotated ?? DEFAULT_AUDIT_KEEP_ROTATED;
  }

  get path(): string {
    return join(this.options.directory, AUDIT_FILE_NAME);
  }

  private rotatedPath(index: number): string {
    return join(this.options.directory, `audit.${index}.jsonl`);
  }

  /**
   * Appends the entries; with `sync` (the default) resolves once they are on disk (fdatasync).
   * `rotate: false` for a process that does not own the log (a client window): only the holder
   * renames files, so two processes never rotate at once.
   */
  append(entries: readonly AuditEntry[], options: { sync?: boolean; rotate?: boolean } = {}): Promise<void> {
    const run = this.tail.then(() => this.write(entries, options.sync ?? true, options.rotate ?? true));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async write(entries: readonly AuditEntry[], sync: boolean, rotate: boolean): Promise<void> {
    if (entries.length === 0) return;
    const text = entries.map((entry) => JSON.stringify(entry)).join('\n') + '\n';
    const bytes = Buffer.byteLength(text);
    await mkdirDurable(this.options.directory);
    this.size ??= await fs.stat(this.path).then(
      (stat) => stat.size,
      () => 0,
    );
    if (rotate && this.size > 0 && this.size + bytes > this.maxBytes) await this.rotate();
    const created = this.size === 0;
    const handle = await fs.open(this.path, 'a', 0o600);
    try {
      await handle.write(text);
      if (sync) await handle.datasync();
    } finally {
      await handle.close();
    }
    this.size += bytes;
    // A new file's name must survive a power cut too.
    if (created && sync) await mkdirDurable(this.options.directory);
  }

  private async rotate(): Promise<void> {
    await fs.rm(this.rotatedPath(this.keepRotated), { force: true });
    for (let index = this.keepRotated - 1; index >= 1; index--) {
      await fs.rename(this.rotatedPath(index), this.rotatedPath(index + 1)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
    }
    await fs.rename(this.path, this.rotatedPath(1));
    this.size = 0;
  }

  /** Every entry of every file, oldest file first, in the order written; torn or foreign lines skipped. */
  async read(): Promise<AuditEntry[]> {
    await this.tail;
    const entries: AuditEntry[] = [];
    const files = [...Array.from({ length: this.keepRotated }, (_, i) => this.rotatedPath(this.keepRotated - i)), this.path];
    for (const file of files) {
      const text = await fs.readFile(file, 'utf8').catch(() => '');
      for (const line of text.split('\n')) {
        if (!line) continue;
        try {
          const parsed = auditEntrySchema.safeParse(JSON.parse(line));
          if (parsed.success) entries.push(parsed.data);
        } catch {
          // a line cut short by a crash mid-append: never acknowledged
        }
      }
    }
    return entries;
  }

  /**
   * The ids in the current file and the newest rotated one: enough to tell which of the queue's
   * newest records (far fewer than a file holds) are missing, without validating every entry.
   */
  async recentIds(): Promise<Set<string>> {
    await this.tail;
    const ids = new Set<string>();
    for (const file of [this.rotatedPath(1), this.path]) {
      const text = await fs.readFile(file, 'utf8').catch(() => '');
      for (const line of text.split('\n')) {
        try {
          const id = (JSON.parse(line) as { id?: unknown }).id;
          if (typeof id === 'string') ids.add(id);
        } catch {
          // an empty or torn line
        }
      }
    }
    return ids;
  }

  /** Resolves when every append asked for so far has finished (or failed). */
  whenIdle(): Promise<void> {
    return this.tail;
  }
}
