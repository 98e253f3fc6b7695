import { DurableHistoryLog } from '../history/durableHistoryLog';
import type { JobHistory } from '../history/jobHistory';
import type { DurableQueueLog } from '../queue/durableQueueLog';
import type { BackupPart } from '../storage/backupTypes';
import type { BackupStoreEntry } from '../storage/durableBackupSource';
import { snapshotPath } from '../storage/durableRecovery';
import { readSnapshotHeader } from '../storage/snapshot';
import type { StateData, StateRecord } from '../storage/stateCodec';
import type { DurableStore } from '../storage/durableStore';
import { fsp as fs } from '../storage/storageFs';

/** The runtime's stores that are open now, as backup parts: the queue, the active history (not the archive) and the state store. */
export function liveStores(
  queueLog: DurableQueueLog | undefined,
  history: JobHistory | undefined,
  state?: DurableStore<StateData, StateRecord>,
): BackupStoreEntry[] {
  const entries: BackupStoreEntry[] = [];
  const queue = queueLog?.durableStore;
  if (queue) entries.push({ store: queue, summary: () => counted(queue.state.jobs.size, 'job') });
  const active = history?.log instanceof DurableHistoryLog ? history.log.durableStore : undefined;
  if (history && active) entries.push({ store: active, summary: () => counted(history.active.count, 'entry', 'entries') });
  if (state) {
    entries.push({
      store: state,
      summary: () => {
        let keys = 0;
        for (const namespace of state.state.values()) keys += namespace.size;
        return `${counted(keys, 'key')} in ${counted(state.state.size, 'namespace')}`;
      },
    });
  }
  return entries;
}

/**
 * A store's saved snapshot as a backup part, read from its file: before a migration, the file is
 * still the state as it was (the migration happens in memory, and is written at the next
 * compaction). Undefined when the file is gone (the store opened from a backup, which holds it).
 */
export async function savedSnapshotPart(directory: string, name: string, summary: string): Promise<BackupPart | undefined> {
  const bytes = await fs.readFile(snapshotPath({ directory, name })).catch(() => undefined);
  if (!bytes) return undefined;
  readSnapshotHeader(bytes); // it verified a moment ago; this throws if it changed since
  return { name, bytes, summary };
}

/** "1 job", "3 jobs": what a backup's summary says. */
function counted(count: number, one: string, many = `${one}s`): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? one : many}`;
}
