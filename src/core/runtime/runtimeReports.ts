import type { LostShard } from '../history/archive';
import type { ArchiveEvent } from '../history/archiveRepair';
import type { Job } from '../queue/jobModel';
import type { StorageEvent } from '../storage/storeEvents';
import type { RecoveryQuestion } from './recoveryPolicy';

/**
 * What a workspace runtime tells whoever opened it, beyond its log. The runtime logs every one of
 * them itself; an entry point shows the ones a person must see (the VS Code layer turns them into
 * notifications, src/vscode/runtimeReports.ts).
 */
export type RuntimeReport =
  /** Damage, a cut tail or a compaction of the queue's storage, found while it opened or since. */
  | { readonly type: 'queueStorage'; readonly event: StorageEvent }
  /** The same for the active history's storage. */
  | { readonly type: 'historyStorage'; readonly event: StorageEvent }
  /** The same for the workspace state store (other extensions' namespaces: docs/state-api.md). */
  | { readonly type: 'stateStorage'; readonly event: StorageEvent }
  /** The state store did not open; it is not tried again by this runtime, and `openState` calls fail `unavailable`. */
  | { readonly type: 'stateOpenFailed'; readonly message: string }
  /** The history did not open; it is not tried again by this runtime. */
  | { readonly type: 'historyOpenFailed'; readonly message: string }
  /** The saved history was damaged and opened from what could be read. */
  | { readonly type: 'historyDamaged' }
  /** An archive shard was damaged or missing and is in quarantine. */
  | { readonly type: 'archiveShardLost'; readonly shard: LostShard }
  /** The archive repaired itself (a rebuilt index, an adopted shard) or set aside a shard no index named. */
  | { readonly type: 'archiveRepaired'; readonly event: ArchiveEvent }
  /** Interrupted jobs the recovery policy leaves to a person (nothing happens when no one asks). */
  | { readonly type: 'recoveryNeeded'; readonly jobs: readonly Job[]; readonly question: RecoveryQuestion }
  /**
   * The storage folder's disk went below `storageMinFreeMB` (`low`: no new job starts; running
   * ones go on) or is above it again (`low: false`: queued jobs start again). Once each way.
   */
  | {
      readonly type: 'lowDiskSpace';
      readonly low: boolean;
      readonly freeBytes: number;
      readonly thresholdBytes: number;
      /** Jobs waiting to start when it was said. */
      readonly heldJobs: number;
    };
