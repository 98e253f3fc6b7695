import { LifelineError } from '../errors';

/**
 * Typed errors of the storage core. Callers branch on `reason`, never on message text
 * (docs/errors.md); messages are written for the person who will read them in a notification.
 */
export type StorageErrorReason =
  | 'corruptSnapshot'
  | 'corruptJournal'
  | 'unsupportedVersion'
  | 'validationFailed'
  | 'migrationFailed'
  | 'missingKey'
  | 'wrongKey'
  | 'decryptFailed'
  | 'invalidBackup'
  | 'invalidKey'
  | 'invalidRecoveryKey'
  | 'decompressFailed'
  | 'decompressTooLarge'
  | 'backupNotFound'
  | 'diskFull'
  | 'permissionDenied'
  | 'ioError'
  | 'closed'
  | 'locked';

export class StorageError extends LifelineError<StorageErrorReason> {
  constructor(reason: StorageErrorReason, message: string, options?: { cause?: unknown }) {
    super('StorageError', reason, message, options);
  }
}
