import type { StoreFinding } from './storeSet';

/** How bad one finding is: repairable with nothing lost, or a loss of acknowledged data. */
export type Severity = 'repairable' | 'lost';

export interface Problem {
  readonly where: string;
  readonly severity: Severity;
  readonly detail: string;
}

/** One finding of opening the stores as a line of the report, or undefined for one that is no problem. */
export function problemOf(finding: StoreFinding): Problem | undefined {
  if (finding.kind === 'lostShard') {
    const { shard } = finding;
    return {
      where: 'history archive',
      severity: 'lost',
      detail: `shard ${shard.file} is damaged or missing: ${shard.count} entries of ${shard.month} (finished ${new Date(shard.minFinishedAt).toISOString()} to ${new Date(shard.maxFinishedAt).toISOString()})`,
    };
  }
  if (finding.kind === 'archive') {
    const { event } = finding;
    switch (event.type) {
      case 'indexRebuilt':
        return {
          where: 'history archive',
          severity: 'repairable',
          detail: `index.json is ${event.reason}: rebuilt from ${event.shards} shards that verify (${event.entries} entries)`,
        };
      case 'shardAdopted':
        return {
          where: 'history archive',
          severity: 'repairable',
          detail: `shard ${event.shard.file} is missing from the index and verifies: added back`,
        };
      case 'indexEntryRepaired':
        return { where: 'history archive', severity: 'repairable', detail: `index entry of ${event.file} is wrong: ${event.detail}` };
      case 'unknownShardQuarantined':
        return {
          where: 'history archive',
          severity: 'lost',
          detail: `shard ${event.file}, named by no index, does not verify (${event.detail}): what it held is unknown`,
        };
      case 'shardSetAside':
        return {
          where: 'history archive',
          severity: 'repairable',
          detail: `shard ${event.shard.file} is newer than the restored index: set aside`,
        };
      case 'leftoverRemoved':
        return { where: 'history archive', severity: 'repairable', detail: `${event.file} is a write a crash cut short (never data)` };
    }
  }
  const { event, store } = finding;
  switch (event.type) {
    case 'journalTailCut':
      return {
        where: store,
        severity: 'repairable',
        detail: `the last write before a crash is torn (${event.bytesCut} bytes of ${event.file}): cut, nothing acknowledged lost`,
      };
    case 'quarantined':
      return { where: store, severity: 'repairable', detail: `${event.file} is damaged (${event.reason}): ${event.detail}` };
    case 'repaired':
      return { where: store, severity: 'repairable', detail: `${event.file}: ${event.detail} (rebuilt with nothing lost)` };
    case 'recoveredFromBackup':
      return {
        where: store,
        severity: 'repairable',
        detail: `opens from the newest good backup (sequence ${event.sequence}) plus ${event.journalRecordsReplayed} later journal record(s)`,
      };
    case 'stateLost':
      return { where: store, severity: 'lost', detail: `no good snapshot and no backup holds it: ${event.detail}` };
    case 'dataLost': {
      const count = event.records === undefined ? 'an unknown number of' : String(event.records);
      const range =
        event.toSequence === undefined ? `from record ${event.fromSequence} on` : `records ${event.fromSequence} to ${event.toSequence}`;
      const when = event.acknowledgedBetween
        ? `, saved between ${new Date(event.acknowledgedBetween.from).toISOString()} and ${new Date(event.acknowledgedBetween.to).toISOString()}`
        : '';
      return {
        where: store,
        severity: 'lost',
        detail: `${count} acknowledged record(s) lost (${event.cause}, ${range}${when}): ${event.detail}`,
      };
    }
    case 'compacted':
    case 'compactionFailed':
      return undefined;
  }
}

/** The worst severity among `problems`, or undefined when there is none. */
export function worst(problems: readonly Problem[]): Severity | undefined {
  if (problems.some((problem) => problem.severity === 'lost')) return 'lost';
  return problems.length > 0 ? 'repairable' : undefined;
}
