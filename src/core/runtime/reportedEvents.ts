import type { Clock } from '../clock';
import { systemClock } from '../clock';
import type { RuntimeReport } from './runtimeReports';

/** A runtime report about storage damage, repair or loss, as the health report lists it. */
export interface ReportedEvent {
  readonly at: number;
  /** `queue`, `history`, `archive`, `disk`. */
  readonly store: string;
  readonly summary: string;
  /** What did not come back, when something did not; undefined when nothing was lost. */
  readonly lost: string | undefined;
}

/** At most this many are kept: a long session of repeated damage keeps its newest. */
const MAX_EVENTS = 200;

/**
 * The storage reports a runtime raised since it opened, kept so that the health report can list
 * them (the notifications are gone by then). Give `add` to `RuntimeContext.onDidReport`, so that
 * damage found while the queue opens is in it too.
 */
export class ReportedEventLog {
  private readonly list: ReportedEvent[] = [];

  constructor(private readonly clock: Clock = systemClock) {}

  get events(): readonly ReportedEvent[] {
    return this.list;
  }

  add(report: RuntimeReport): void {
    const described = describeStorageReport(report);
    if (!described) return;
    this.list.push({ at: this.clock.now(), ...described });
    if (this.list.length > MAX_EVENTS) this.list.splice(0, this.list.length - MAX_EVENTS);
  }
}

const time = (ms: number): string => new Date(ms).toISOString();

/** One line for a storage report, or undefined for one that is not about damage (a compaction, a question about jobs). */
export function describeStorageReport(report: RuntimeReport): Omit<ReportedEvent, 'at'> | undefined {
  switch (report.type) {
    case 'queueStorage':
    case 'historyStorage': {
      const event = report.event;
      const store = event.store;
      switch (event.type) {
        case 'journalTailCut':
          return {
            store,
            summary: `an unfinished last write (${event.bytesCut} bytes of ${event.file}) was cut after a crash`,
            lost: undefined,
          };
        case 'quarantined':
          return { store, summary: `${event.file} was damaged (${event.detail}) and moved to ${event.quarantinePath}`, lost: undefined };
        case 'recoveredFromBackup':
          return {
            store,
            summary: `opened from a backup (sequence ${event.sequence}) with ${event.journalRecordsReplayed} later change(s) replayed`,
            lost: undefined,
          };
        case 'stateLost':
          return {
            store,
            summary: `the saved state could not be read and no backup holds it: ${event.detail}`,
            lost: 'the saved state (opened from what its journal gave)',
          };
        case 'dataLost': {
          const what = event.records === undefined ? `changes from sequence ${event.fromSequence} on` : `${event.records} saved change(s)`;
          const when = event.acknowledgedBetween
            ? `, saved between ${time(event.acknowledgedBetween.from)} and ${time(event.acknowledgedBetween.to)}`
            : '';
          return { store, summary: `acknowledged changes did not come back (${event.cause}): ${event.detail}`, lost: `${what}${when}` };
        }
        case 'repaired':
          return { store, summary: `${event.file} was repaired with nothing lost: ${event.detail}`, lost: undefined };
        case 'compactionFailed':
          return { store, summary: `a compaction failed: ${event.error.message}`, lost: undefined };
        case 'compacted':
          return undefined;
      }
      return undefined;
    }
    case 'historyOpenFailed':
      return { store: 'history', summary: `the history did not open: ${report.message}`, lost: undefined };
    case 'historyDamaged':
      return {
        store: 'history',
        summary: 'the saved history was damaged and opened from what could be read',
        lost: 'see the quarantined files',
      };
    case 'archiveShardLost': {
      const shard = report.shard;
      return {
        store: 'archive',
        summary: `archive shard ${shard.file} was damaged or missing${shard.quarantinedTo ? ` (moved to ${shard.quarantinedTo})` : ''}`,
        lost: `${shard.count} archived entries of ${shard.month}, finished between ${time(shard.minFinishedAt)} and ${time(shard.maxFinishedAt)}`,
      };
    }
    case 'archiveRepaired': {
      const event = report.event;
      if (event.type === 'leftoverRemoved') return undefined;
      if (event.type === 'unknownShardQuarantined') {
        return {
          store: 'archive',
          summary: `${event.file}, named by no index, failed its check (${event.detail}) and was moved to ${event.quarantinedTo}`,
          lost: 'unknown (no index named what it held)',
        };
      }
      return { store: 'archive', summary: `the archive repaired itself (${event.type})`, lost: undefined };
    }
    case 'lowDiskSpace':
    case 'recoveryNeeded':
      return undefined;
  }
}
