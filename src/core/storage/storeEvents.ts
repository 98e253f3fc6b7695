import type { StorageError } from './errors';

/**
 * What a store reports about its own health. The VS Code layer turns these into notifications
 * (with an offer of the newest backup) and the storage health view; nothing here is silent.
 */
export type StorageEvent =
  /** A torn or corrupt last record was cut back; nothing valid followed it. */
  | {
      readonly type: 'journalTailCut';
      readonly store: string;
      readonly file: string;
      readonly bytesCut: number;
      readonly droppedCompleteRecord: boolean;
      /** Where a copy of the cut bytes was kept. */
      readonly quarantinePath?: string;
    }
  /** A damaged file was moved to quarantine/; `lostRecords` is unknown (-1) when the damage hid them. */
  | {
      readonly type: 'quarantined';
      readonly store: string;
      readonly file: string;
      readonly quarantinePath: string;
      readonly reason: 'corruptSnapshot' | 'corruptJournal' | 'sequenceGap' | 'corruptManifest';
      readonly detail: string;
    }
  /** The snapshot could not be used; the state came from the newest good backup instead. */
  | { readonly type: 'recoveredFromBackup'; readonly store: string; readonly sequence: number; readonly journalRecordsReplayed: number }
  /** No good snapshot and no backup: the store opened with what the journals alone could give. */
  | { readonly type: 'stateLost'; readonly store: string; readonly detail: string }
  /**
   * Acknowledged data that did not come back, whatever the cause, with the best bounds the files
   * allow. The opened state holds every record before `fromSequence` and none after; records from
   * `fromSequence` through `toSequence` (to the end of what was acknowledged, when `toSequence` is
   * undefined because nothing on disk says where that was) are gone. Every open that returns less
   * than was acknowledged raises this: an open that raises none returned everything.
   */
  | {
      readonly type: 'dataLost';
      readonly store: string;
      readonly cause: DataLossCause;
      readonly fromSequence: number;
      readonly toSequence: number | undefined;
      /** How many records, when known (`toSequence - fromSequence + 1` when both ends are). */
      readonly records: number | undefined;
      /** When the lost records were acknowledged (ms since the epoch), as far as the files tell. */
      readonly acknowledgedBetween: { readonly from: number; readonly to: number } | undefined;
      readonly detail: string;
    }
  /**
   * A damaged or missing file was found and rebuilt from a good copy (a snapshot from the previous
   * generation and the journals after it), or held nothing acknowledged: no record was lost.
   */
  | {
      readonly type: 'repaired';
      readonly store: string;
      readonly file: string;
      readonly cause: DataLossCause;
      readonly detail: string;
    }
  | {
      readonly type: 'compacted';
      readonly store: string;
      readonly generation: number;
      readonly snapshotBytes: number;
      readonly durationMs: number;
    }
  | { readonly type: 'compactionFailed'; readonly store: string; readonly error: StorageError };

/** Why acknowledged records are gone: names the file that failed, so the report can say what to look at. */
export type DataLossCause =
  | 'journalMissing'
  | 'journalEmptied'
  | 'journalCut'
  | 'journalDamaged'
  | 'snapshotDamaged'
  | 'snapshotMissing'
  | 'manifestDamaged'
  | 'manifestMissing'
  | 'sequenceGap';

export interface StoreMetrics {
  readonly store: string;
  /** Time the last open took, recovery included. */
  readonly loadMs: number;
  readonly commits: number;
  readonly failedCommits: number;
  /** Over the last 256 commits, from commit() to acknowledgement. */
  readonly saveP50Ms: number;
  readonly saveP99Ms: number;
  readonly lastSaveMs: number;
  readonly snapshotBytes: number;
  readonly journalBytes: number;
  readonly journalRecords: number;
  readonly lastCompaction: { readonly at: number; readonly durationMs: number; readonly snapshotBytes: number } | undefined;
  /** Damaged files found since this store object was opened. */
  readonly corruptionCount: number;
}

/** A fixed ring of recent durations, so metrics cost nothing as a store ages. */
export class DurationRing {
  private readonly values: number[] = [];
  private next = 0;
  constructor(private readonly capacity = 256) {}
  add(value: number): void {
    if (this.values.length < this.capacity) this.values.push(value);
    else this.values[this.next] = value;
    this.next = (this.next + 1) % this.capacity;
  }
  percentile(p: number): number {
    if (this.values.length === 0) return 0;
    const sorted = [...this.values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
  }
}
