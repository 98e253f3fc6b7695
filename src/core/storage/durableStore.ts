import { fsp as fs } from './storageFs';
import { performance } from 'node:perf_hooks';
import type { Clock } from '../clock';
import { systemClock } from '../clock';
import type { Logger } from '../logger';
import { nullLogger } from '../logger';
import type { AuditSink } from './auditLog';
import type { RecordCipher } from './cipher';
import type { DurableCodec } from './durableRecovery';
import { journalPath, recoverStore, snapshotPath } from './durableRecovery';
import { StorageError } from './errors';
import type { JournalOptions } from './journal';
import { createJournalFile, Journal } from './journal';
import { encodeBatch } from './journalFormat';
import type { SnapshotPayload } from './snapshot';
import { decodeSnapshot, encodeSnapshot, writeVerifiedSnapshot } from './snapshot';
import { AckMark, ackMarkPath } from './ackMark';
import { claimStore, releaseStore } from './storeClaims';
import { removeJournalsBelow, writeFreshGeneration } from './freshGeneration';
import type { FreshGenerationTarget } from './freshGeneration';
import { ManifestKeeper } from './manifestKeeper';
import type { SnapshotRef, StoreManifest } from './storeManifest';
import { previousSnapshotPath } from './storeManifest';
import { toStorageError } from './storageIo';
import type { StorageEvent, StoreMetrics } from './storeEvents';
import { DurationRing } from './storeEvents';

export interface DurableStoreOptions<S, R> {
  /** Folder holding the store's files (shared by several stores; each has its own name). */
  readonly directory: string;
  /** Letters, digits, `-`, `_` and `.`: part of every file name. */
  readonly name: string;
  readonly codec: DurableCodec<S, R>;
  /** Encrypts snapshot and journal payloads. A store written with a key never opens without it. */
  readonly cipher?: RecordCipher;
  /** gzip snapshots. @default false */
  readonly compress?: boolean;
  readonly logger?: Logger;
  readonly audit?: AuditSink;
  /** Snapshot bytes of the newest good backup, asked for only when the snapshot is damaged. */
  readonly loadFallback?: () => Promise<Uint8Array | undefined>;
  /** Receives every event, including those raised while opening. */
  readonly onEvent?: (event: StorageEvent) => void;
  /** When to fold the journal into a new snapshot in the background; `false` for never. */
  readonly compaction?: false | { readonly maxJournalBytes?: number; readonly maxJournalRecords?: number };
  /** Stamps quarantined files and the last compaction. @default systemClock */
  readonly clock?: Clock;
  /** How the journal writes: see JournalOptions. @default thread-pool writes */
  readonly journal?: JournalOptions;
}

const defaultCompaction = { maxJournalBytes: 16 * 1024 * 1024, maxJournalRecords: 20_000 };

export interface CommitOptions {
  /** Runs once the commit is in the journal file, before its sync: see Journal.append. */
  readonly onWritten?: () => void;
}

/**
 * The one durable primitive: a snapshot plus an append-only journal, generic over the state `S`
 * and its records `R`. A commit appends one framed record (all or nothing after a crash) and
 * resolves once it is fdatasync'd; its cost does not depend on the size of the state. The state
 * seen through `state` holds exactly the acknowledged commits.
 *
 * Compaction: rotate appends to journal generation G+1 (a barrier in the commit queue, where the
 * state is frozen for the serialiser), write the snapshot `{generation: G+1, sequence}` atomically,
 * then delete generations <= G. A crash at any point leaves either the old snapshot with every
 * journal it needs, or the new snapshot (older journals are then ignored and removed).
 */
export class DurableStore<S, R> {
  private readonly listeners = new Set<(event: StorageEvent) => void>();
  private readonly replaceListeners = new Set<(previous: S) => void>();
  private lockKey = '';
  private readonly saves = new DurationRing();
  private compacting: Promise<void> | undefined;
  private exclusive: Promise<void> | undefined;
  private closed = false;
  private commits = 0;
  private failedCommits = 0;
  private lastSaveMs = 0;
  private lastCompaction: StoreMetrics['lastCompaction'];
  private readonly compaction: false | { maxJournalBytes: number; maxJournalRecords: number };
  private manifest!: ManifestKeeper;
  /** What new files are sealed with: options.cipher until a {@link rekey}. */
  private cipher: RecordCipher | undefined;
  private ackMark!: AckMark;

  private constructor(
    private readonly options: DurableStoreOptions<S, R>,
    private currentState: S,
    private readonly journal: Journal,
    private snapshotBytes: number,
    private corruptions: number,
    private readonly loadMs: number,
  ) {
    this.cipher = options.cipher;
    this.compaction = options.compaction === false ? false : { ...defaultCompaction, ...options.compaction };
  }

  static async open<S, R>(options: DurableStoreOptions<S, R>): Promise<DurableStore<S, R>> {
    const key = claimStore(options.directory, options.name);
    try {
      return await DurableStore.openUnguarded(options, key);
    } catch (error) {
      releaseStore(key);
      throw error;
    }
  }

  private static async openUnguarded<S, R>(options: DurableStoreOptions<S, R>, key: string): Promise<DurableStore<S, R>> {
    const started = performance.now();
    const early: StorageEvent[] = [];
    const recovered = await recoverStore({
      directory: options.directory,
      name: options.name,
      codec: options.codec,
      cipher: options.cipher,
      compress: options.compress ?? false,
      logger: options.logger ?? nullLogger,
      audit: options.audit,
      loadFallback: options.loadFallback,
      emit: (event) => {
        early.push(event);
        options.onEvent?.(event);
      },
      clock: options.clock ?? systemClock,
    }).catch((error: unknown) => {
      // Whatever went wrong (a folder we may not read, a quarantine that cannot move), the caller
      // gets a typed error it can act on.
      throw toStorageError(error, `open the store ${options.name}`);
    });
    const journal = new Journal(recovered.file, recovered.sequence, options.journal);
    const store = new DurableStore(
      options,
      recovered.state,
      journal,
      recovered.snapshotBytes,
      recovered.corruptions,
      performance.now() - started,
    );
    store.lockKey = key;
    store.openEvents = early;
    const logger = options.logger ?? nullLogger;
    store.manifest = new ManifestKeeper(options, journal, options.clock ?? systemClock, logger, recovered);
    store.ackMark = new AckMark(
      ackMarkPath(options),
      () => journal.end,
      (message) => logger.warn(`[storage:${options.name}] ${message}`),
    );
    // Not clean from here until close: a crash may tear only what is appended after this.
    await store.manifest.write(false).catch((error: unknown) => {
      logger.warn(`[storage:${options.name}] could not write the manifest: ${(error as Error).message}`);
    });
    options.audit?.record({
      store: options.name,
      action: 'open',
      detail: { sequence: recovered.sequence, corruptions: recovered.corruptions },
    });
    if (recovered.compactionDue && store.compaction) store.compact().catch(() => undefined);
    return store;
  }

  /** Events raised while the store was opening (also delivered to `options.onEvent`). */
  openEvents: readonly StorageEvent[] = [];

  get name(): string {
    return this.options.name;
  }
  /** The acknowledged state. Read it; never mutate it. */
  get state(): S {
    return this.currentState;
  }
  /** Bytes in the current journal generation (what compaction would fold); cheaper than metrics(). */
  get journalBytes(): number {
    return this.journal.size;
  }
  /** Records in the current journal generation: 0 right after a compaction. */
  get journalRecords(): number {
    return this.journal.records;
  }
  /** Sequence number of the last acknowledged record. */
  get sequence(): number {
    return this.journal.sequence;
  }

  onEvent(listener: (event: StorageEvent) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  /**
   * Called after a restore ({@link replaceWith}) swapped the state, with the state it replaced
   * (still intact: it is freed only after the listeners ran), so that a store built on this one can
   * tell its own listeners what changed.
   */
  onDidReplace(listener: (previous: S) => void): { dispose(): void } {
    this.replaceListeners.add(listener);
    return { dispose: () => this.replaceListeners.delete(listener) };
  }

  /**
   * Appends `records` as one atomic journal record; resolves when it is on disk and applied.
   * `onWritten` runs once the record is in the file, before its sync (see Journal.append).
   */
  commit(records: readonly R[], options: CommitOptions = {}): Promise<void> {
    if (this.closed) return Promise.reject(new StorageError('closed', `The store ${this.name} is closed.`));
    if (this.exclusive) {
      return this.exclusive.then(
        () => this.commit(records, options),
        () => this.commit(records, options),
      );
    }
    if (records.length === 0) {
      options.onWritten?.();
      return Promise.resolve();
    }
    let payload: Buffer;
    try {
      payload = encodeBatch(records.map((record) => this.options.codec.encodeRecord(record)));
    } catch (error) {
      return Promise.reject(
        new StorageError('validationFailed', `A record of ${this.name} cannot be encoded: ${(error as Error).message}`, { cause: error }),
      );
    }
    const started = performance.now();
    return this.journal
      .append(
        payload,
        () => {
          for (const record of records) this.currentState = this.options.codec.apply(this.currentState, record);
        },
        options.onWritten,
      )
      .then(
        () => {
          this.lastSaveMs = performance.now() - started;
          this.saves.add(this.lastSaveMs);
          this.commits++;
          this.ackMark.note();
          this.manifest.noteCommit();
          this.maybeCompact();
        },
        (error: unknown) => {
          this.failedCommits++;
          throw error;
        },
      );
  }

  /** Folds the journal into a new snapshot now (or joins the compaction already running). */
  compact(): Promise<void> {
    if (this.closed) return Promise.reject(new StorageError('closed', `The store ${this.name} is closed.`));
    this.compacting ??= this.runCompaction().finally(() => {
      this.compacting = undefined;
    });
    return this.compacting;
  }

  /** Resolves when no background compaction is running. */
  async whenIdle(): Promise<void> {
    while (this.compacting) await this.compacting.catch(() => undefined);
    await this.journal.drain();
  }

  /** The current acknowledged state as self-contained snapshot bytes (a backup part). */
  async exportSnapshot(): Promise<Uint8Array> {
    const serialize = this.options.codec.snapshot(this.currentState);
    const sequence = this.journal.sequence;
    const generation = this.journal.generation;
    return encodeSnapshot(await serialize(), {
      generation,
      sequence,
      cipher: this.cipher,
      compress: this.options.compress ?? false,
    });
  }

  /**
   * Replaces the whole state with a snapshot (a restore). The bytes are fully validated before
   * anything changes; commits wait meanwhile. Crash-safe: the new snapshot is written with a
   * generation past every existing journal before appends move on.
   */
  async replaceWith(snapshot: Uint8Array): Promise<void> {
    const decoded = await decodeSnapshot(snapshot, this.cipher);
    let state: S;
    try {
      state = await this.options.codec.decodeSnapshot(decoded.payload);
    } catch (error) {
      // Intact but newer than this code, or a migration that failed: not damage.
      if (StorageError.is(error, 'unsupportedVersion') || StorageError.is(error, 'migrationFailed')) throw error;
      throw new StorageError('corruptSnapshot', `The snapshot for ${this.name} does not hold a valid state: ${(error as Error).message}`, {
        cause: error,
      });
    }
    await this.runExclusive(async () => {
      await this.whenIdle();
      const previous = this.currentState;
      const afterSnapshot = await writeFreshGeneration(this.fresh(), decoded.payload, () => {
        this.currentState = state;
      });
      for (const listener of this.replaceListeners) {
        try {
          listener(previous);
        } catch (error) {
          (this.options.logger ?? nullLogger).warn(`[storage:${this.name}] a restore listener failed: ${String(error)}`);
        }
      }
      this.options.codec.dispose?.(previous);
      this.options.audit?.record({ store: this.name, action: 'restore', detail: { sequence: this.sequence, bytes: snapshot.length } });
      if (afterSnapshot !== undefined) throw toStorageError(afterSnapshot, `restore ${this.name}`);
    });
  }

  private fresh(): FreshGenerationTarget {
    return {
      layout: this.options,
      journal: this.journal,
      cipher: this.cipher,
      compress: this.options.compress ?? false,
      manifest: this.manifest,
      wroteSnapshot: (bytes) => {
        this.snapshotBytes = bytes;
      },
    };
  }

  /** The fingerprint of the key new files are sealed with; undefined when they are written plain. */
  get keyFingerprint(): string | undefined {
    return this.cipher?.keyFingerprint;
  }

  /**
   * Rewrites the store under another key, or none (encryption turned on or off): the acknowledged
   * state becomes a new snapshot and journal sealed with `cipher`, and every file sealed otherwise
   * goes, the previous generation too (kept, it would leave the data readable the old way).
   * Commits wait meanwhile; the state does not change. Crash-safe like replaceWith: a crash leaves
   * either the old files or the new ones, and a reopen given the new key reads either.
   */
  async rekey(cipher: RecordCipher | undefined): Promise<void> {
    await this.runExclusive(async () => {
      await this.whenIdle();
      const payload = await this.options.codec.snapshot(this.currentState)();
      const before = this.cipher;
      this.cipher = cipher;
      let afterSnapshot: unknown;
      try {
        afterSnapshot = await writeFreshGeneration(this.fresh(), payload, () => undefined);
      } catch (error) {
        this.cipher = before;
        throw error;
      }
      await fs.rm(previousSnapshotPath(this.options), { force: true });
      this.options.audit?.record({ store: this.name, action: 'rekey', detail: { encrypted: cipher !== undefined } });
      if (afterSnapshot !== undefined) throw toStorageError(afterSnapshot, `re-key ${this.name}`);
    });
  }

  metrics(): StoreMetrics {
    return {
      store: this.name,
      loadMs: this.loadMs,
      commits: this.commits,
      failedCommits: this.failedCommits,
      saveP50Ms: this.saves.percentile(50),
      saveP99Ms: this.saves.percentile(99),
      lastSaveMs: this.lastSaveMs,
      snapshotBytes: this.snapshotBytes,
      journalBytes: this.journal.size,
      journalRecords: this.journal.records,
      lastCompaction: this.lastCompaction,
      corruptionCount: this.corruptions,
    };
  }

  /** Waits for running work, then closes the journal. Later calls fail with 'closed'. */
  async close(): Promise<void> {
    if (this.closed) return;
    while (this.exclusive) await this.exclusive.catch(() => undefined);
    this.closed = true;
    await this.compacting?.catch(() => undefined);
    await this.journal.close();
    this.ackMark.close();
    await this.manifest.close().catch((error: unknown) => {
      // The manifest then says "not clean": the next open treats the tail as a crash's, never as loss.
      (this.options.logger ?? nullLogger).warn(
        `[storage:${this.name}] could not write the clean-close manifest: ${(error as Error).message}`,
      );
    });
    releaseStore(this.lockKey);
  }

  private emit(event: StorageEvent): void {
    this.options.onEvent?.(event);
    for (const listener of this.listeners) listener(event);
  }

  private async runExclusive(work: () => Promise<void>): Promise<void> {
    while (this.exclusive) await this.exclusive.catch(() => undefined);
    const running = work();
    this.exclusive = running.finally(() => {
      this.exclusive = undefined;
    });
    await this.exclusive;
  }

  private maybeCompact(): void {
    if (!this.compaction || this.compacting || this.exclusive || this.closed) return;
    if (this.journal.size < this.compaction.maxJournalBytes && this.journal.records < this.compaction.maxJournalRecords) return;
    // In the background: the commit that crossed the threshold is already acknowledged.
    this.compact().catch(() => undefined);
  }

  private async runCompaction(): Promise<void> {
    const started = performance.now();
    const generation = this.journal.generation + 1;
    try {
      const next = await createJournalFile(journalPath(this.options, generation), generation, this.cipher, { manifested: true });
      let serialize: (() => Promise<SnapshotPayload>) | undefined;
      let sequence = 0;
      await this.journal
        .rotate(next, (sealed) => {
          serialize = this.options.codec.snapshot(this.currentState);
          sequence = this.journal.sequence;
          this.manifest.seal(sealed);
        })
        .catch(async (error: unknown) => {
          await next.handle.close().catch(() => undefined);
          throw error;
        });
      if (!serialize) throw new StorageError('ioError', 'The journal rotated without freezing the state.');
      const payload = await serialize();
      // Closing (deactivate has about 5 s): leave it; the old snapshot and journals stay complete.
      if (this.closed) return;
      const previous = await this.installSnapshot(payload, { generation, sequence });
      await removeJournalsBelow(this.options, previous.generation);
      const durationMs = performance.now() - started;
      this.lastCompaction = { at: (this.options.clock ?? systemClock).now(), durationMs, snapshotBytes: this.snapshotBytes };
      this.options.audit?.record({ store: this.name, action: 'compact', detail: { generation, sequence, bytes: this.snapshotBytes } });
      this.emit({ type: 'compacted', store: this.name, generation, snapshotBytes: this.snapshotBytes, durationMs });
    } catch (error) {
      const storageError = toStorageError(error, `compact the store ${this.name}`);
      (this.options.logger ?? nullLogger).error(`[storage:${this.name}] compaction failed: ${storageError.message}`);
      this.emit({ type: 'compactionFailed', store: this.name, error: storageError });
      throw storageError;
    }
  }

  /**
   * Writes a compaction's snapshot while keeping the generation before it: the current snapshot
   * moves to `<name>.snapshot.previous` (or, before the first snapshot, the empty state and the
   * journals from generation 1 stand for it), the new one is written and read back, and only then
   * does the manifest name it. Returns the generation kept, whose journals the caller keeps.
   */
  private async installSnapshot(payload: SnapshotPayload, snapshot: SnapshotRef): Promise<NonNullable<StoreManifest['previous']>> {
    const current = this.manifest.currentSnapshot;
    const path = snapshotPath(this.options);
    const previousPath = previousSnapshotPath(this.options);
    const previous = current ? { ...current, hasFile: true } : { generation: 1, sequence: 0, hasFile: false };
    if (current) await fs.rename(path, previousPath);
    let crc: number;
    try {
      const written = await writeVerifiedSnapshot(path, payload, {
        ...snapshot,
        cipher: this.cipher,
        compress: this.options.compress ?? false,
      });
      this.snapshotBytes = written.bytes;
      crc = written.crc;
    } catch (error) {
      // The snapshot the manifest names goes back where it was.
      if (current) await fs.rename(previousPath, path).catch(() => undefined);
      throw error;
    }
    await this.manifest.install({ ...snapshot, crc }, previous);
    return previous;
  }
}
