import type { Logger } from '../logger';
import type { StorageEvent } from '../storage/storeEvents';

/** Storage events of the queue, logged always; a person is told through the report. */
export function logQueueStorageEvent(event: StorageEvent, logger: Logger): void {
  switch (event.type) {
    case 'journalTailCut':
      logger.warn(`[queue] the last write before a crash was incomplete and was cut (${event.bytesCut} bytes of ${event.file})`);
      return;
    case 'quarantined':
      logger.error(`[queue] ${event.file} was damaged (${event.detail}) and moved to ${event.quarantinePath}`);
      return;
    case 'recoveredFromBackup':
      logger.warn(
        `[queue] opened from the backup of sequence ${event.sequence}, with ${event.journalRecordsReplayed} later record(s) replayed`,
      );
      return;
    case 'stateLost':
      logger.error(`[queue] the saved queue could not be read and no backup holds it: ${event.detail}`);
      return;
    case 'compactionFailed':
      logger.warn(`[queue] compaction failed; the journal keeps growing until the next one: ${event.error.message}`);
      return;
    case 'dataLost':
      logger.error(`[queue] ${event.records ?? 'some'} acknowledged record(s) did not come back (${event.cause}): ${event.detail}`);
      return;
    case 'repaired':
      logger.warn(`[queue] ${event.file} was repaired with nothing lost: ${event.detail}`);
      return;
    case 'compacted':
      return;
  }
}
