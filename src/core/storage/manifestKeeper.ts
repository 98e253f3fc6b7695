import { performance } from 'node:perf_hooks';
import type { Clock } from '../clock';
import type { Logger } from '../logger';
import type { StoreLayout } from './durableLayout';
import type { Journal, JournalEnd } from './journal';
import type { SnapshotRef, StoreManifest } from './storeManifest';
import { withAdvance, writeManifest } from './storeManifest';

/** An advance waits until the journal has been idle this long after a commit... */
const IDLE_MS = 100;
/** ...but no longer than this while commits keep coming. */
const MAX_DELAY_MS = 1000;

export interface ManifestState {
  readonly snapshot: SnapshotRef | undefined;
  readonly previous: StoreManifest['previous'];
  /** Acknowledged ends of the journals kept on disk other than the one appended to. */
  readonly sealed: readonly JournalEnd[];
  readonly createdAt: number;
  readonly advances: StoreManifest['advances'];
}

/**
 * Keeps a store's manifest (storeManifest.ts) up to date, off the commit path: a commit never waits
 * for it and never costs an extra fsync. Each write reads the journal's acknowledged end at the
 * moment it starts, so the manifest never names a byte that is not synced. Writes run one at a
 * time, in order. A failed write is logged: the next one replaces it, and until then the manifest
 * names an older end, which only widens what a crash may tear.
 */
export class ManifestKeeper {
  private snapshot: SnapshotRef | undefined;
  private previous: StoreManifest['previous'];
  private sealed: JournalEnd[];
  private readonly createdAt: number;
  private advances: StoreManifest['advances'];
  private timer: NodeJS.Timeout | undefined;
  private dirtySince: number | undefined;
  private lastCommit = 0;
  private writing: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly layout: StoreLayout,
    private readonly journal: Journal,
    private readonly clock: Clock,
    private readonly logger: Logger,
    initial: ManifestState,
  ) {
    this.snapshot = initial.snapshot;
    this.previous = initial.previous;
    this.sealed = [...initial.sealed];
    this.createdAt = initial.createdAt;
    this.advances = initial.advances;
  }

  /** The snapshot `<name>.snapshot` holds, if any. */
  get currentSnapshot(): SnapshotRef | undefined {
    return this.snapshot;
  }

  /** After an acknowledged commit: the acknowledged end moves once the journal is idle (or at least every second). */
  noteCommit(): void {
    if (this.stopped) return;
    this.lastCommit = performance.now();
    this.dirtySince ??= this.lastCommit;
    if (!this.timer) this.arm(IDLE_MS);
  }

  /** A journal generation was closed for appends at `end` (a rotation). */
  seal(end: JournalEnd): void {
    this.sealed.push(end);
  }

  /** A new snapshot verified on disk: record it and the generation kept to repair from, now. */
  install(snapshot: SnapshotRef, previous: StoreManifest['previous']): Promise<void> {
    this.snapshot = snapshot;
    this.previous = previous;
    const keepFrom = previous?.generation ?? snapshot.generation;
    this.sealed = this.sealed.filter((end) => end.generation >= keepFrom);
    return this.write(false);
  }

  /** Writes the manifest now, after any write in flight. */
  write(clean: boolean): Promise<void> {
    const run = async (): Promise<void> => {
      const end = this.journal.end;
      this.advances = withAdvance(this.advances, end.sequence, this.clock.now());
      const manifest: StoreManifest = {
        snapshot: this.snapshot,
        previous: this.previous,
        journals: [...this.sealed.filter((sealed) => sealed.generation < end.generation), end],
        clean,
        createdAt: this.createdAt,
        advances: this.advances,
      };
      await writeManifest(this.layout, manifest);
    };
    const next = this.writing.catch(() => undefined).then(run);
    this.writing = next;
    return next;
  }

  /** Stops advancing and writes the clean-close manifest (after the journal is closed). */
  async close(): Promise<void> {
    this.stop();
    await this.write(true);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(delay: number): void {
    this.timer = setTimeout(() => this.onTimer(), delay);
    // A pending advance never keeps a process alive: a clean close writes the final one.
    this.timer.unref();
  }

  private onTimer(): void {
    this.timer = undefined;
    if (this.stopped) return;
    const now = performance.now();
    const idle = now - this.lastCommit;
    const waited = now - (this.dirtySince ?? now);
    if (idle < IDLE_MS && waited < MAX_DELAY_MS) {
      this.arm(Math.max(1, Math.min(IDLE_MS - idle, MAX_DELAY_MS - waited)));
      return;
    }
    this.dirtySince = undefined;
    this.write(false).catch((error: unknown) => {
      this.logger.warn(`[storage:${this.layout.name}] could not advance the manifest: ${(error as Error).message}`);
    });
  }
}
