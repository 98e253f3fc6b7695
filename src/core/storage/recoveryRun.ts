import type { Clock } from '../clock';
import type { Logger } from '../logger';
import type { AuditSink } from './auditLog';
import type { RecordCipher } from './cipher';
import type { DurableCodec, StoreLayout } from './durableLayout';
import { StorageError } from './errors';
import type { JournalEnd, JournalHead } from './journal';
import { decodeSnapshot } from './snapshot';
import { quarantineFile } from './storageIo';
import type { DataLossCause, StorageEvent } from './storeEvents';
import type { SnapshotRef, StoreManifest } from './storeManifest';

export interface RecoveryContext<S, R> extends StoreLayout {
  readonly codec: DurableCodec<S, R>;
  readonly cipher: RecordCipher | undefined;
  readonly compress: boolean;
  readonly logger: Logger;
  readonly audit: AuditSink | undefined;
  readonly loadFallback: (() => Promise<Uint8Array | undefined>) | undefined;
  readonly emit: (event: StorageEvent) => void;
  readonly clock: Clock;
}

export type QuarantineReason = 'corruptSnapshot' | 'corruptJournal' | 'sequenceGap' | 'corruptManifest';

/** The journal recovery appends to next, as its scan left it. */
export interface AppendTarget {
  readonly path: string;
  readonly generation: number;
  readonly validLength: number;
  readonly records: number;
  readonly encrypted: boolean;
  readonly fingerprint: string;
  readonly crc: number;
  /** The last record in it (or before it). */
  readonly sequence: number;
  readonly head: JournalHead | undefined;
}

/** The acknowledged end of a journal recovery leaves on disk (what the next manifest names). */
export function endOf(target: AppendTarget): JournalEnd {
  return {
    generation: target.generation,
    sequence: target.sequence,
    bytes: target.validLength,
    crc: target.crc,
    ...(target.head ? { head: target.head } : {}),
  };
}

/**
 * Intact but unreadable by this code or this key: the caller must act (update, give the key, look at
 * a failed migration), and the file must stay where it is. A codec's decodeSnapshot throws
 * 'unsupportedVersion' or 'migrationFailed' for a payload it recognises but cannot bring up to date.
 */
export function isKeyOrVersionProblem(error: unknown): boolean {
  return (
    StorageError.is(error, 'missingKey') ||
    StorageError.is(error, 'wrongKey') ||
    StorageError.is(error, 'decryptFailed') ||
    StorageError.is(error, 'unsupportedVersion') ||
    StorageError.is(error, 'migrationFailed')
  );
}

/**
 * One open of a store's files, as its steps (snapshot choice, journal replay, rewrite) build it:
 * the state so far, where it ends, what was repaired, and the first loss, which the report names.
 */
export class RecoveryRun<S, R> {
  readonly tag: string;
  state: S;
  sequence = 0;
  /** The first journal generation the state does not hold yet. */
  startGeneration = 1;
  snapshotBytes = 0;
  corruptions = 0;
  /** Whether what verifies must be written as a fresh snapshot before the store opens. */
  rewrite = false;
  /** The snapshot the state came from, as the next manifest names it. */
  base: SnapshotRef | undefined;
  previous: StoreManifest['previous'];
  loss: { cause: DataLossCause; detail: string } | undefined;
  readonly repairs: { cause: DataLossCause; file: string; detail: string }[] = [];

  constructor(
    readonly context: RecoveryContext<S, R>,
    readonly manifest: StoreManifest | undefined,
  ) {
    this.tag = `[storage:${context.name}]`;
    this.state = context.codec.empty();
    this.previous = manifest?.previous;
  }

  /** Records a loss; the first one is the cause the report gives. */
  noteLoss(cause: DataLossCause, detail: string): void {
    this.loss ??= { cause, detail };
    this.context.logger.error(`${this.tag} ${detail}`);
  }

  async quarantine(path: string, reason: QuarantineReason, detail: string): Promise<void> {
    const { context } = this;
    const quarantinePath = await quarantineFile(path, context.directory, context.clock.now());
    this.corruptions++;
    context.logger.error(`${this.tag} ${detail}: moved ${path} to ${quarantinePath}`);
    context.audit?.record({ store: context.name, action: 'quarantine', detail: { file: path, quarantinePath, reason, detail } });
    context.emit({ type: 'quarantined', store: context.name, file: path, quarantinePath, reason, detail });
  }

  async decodeFile(bytes: Buffer): Promise<{ state: S; header: SnapshotRef }> {
    const decoded = await decodeSnapshot(bytes, this.context.cipher);
    return { state: await this.context.codec.decodeSnapshot(decoded.payload), header: decoded.header };
  }

  /** Starts from a decoded snapshot: the journals after its generation are replayed onto it. */
  startFrom(state: S, base: SnapshotRef, bytes: number): void {
    this.state = state;
    this.sequence = base.sequence;
    this.startGeneration = base.generation;
    this.snapshotBytes = bytes;
    this.base = base;
  }
}
