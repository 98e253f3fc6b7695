/**
 * Typed errors of the storage core. Callers branch on `reason`, never on message text
 * (STYLE.md rule 8); messages are written for the person who will read them in a notification.
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

export class StorageError extends Error {
  constructor(
    readonly reason: StorageErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StorageError';
  }

  static is(error: unknown, reason?: StorageErrorReason): error is StorageError {
    return error instanceof StorageError && (reason === undefined || error.reason === reason);
  }
}
