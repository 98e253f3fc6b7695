import { LifelineError } from '../errors';
import { StorageError } from '../storage/errors';

/**
 * Why a call of another extension's state namespace failed (docs/state-api.md). Published in
 * src/api/lifeline.d.ts as `LifelineStateErrorReason`: a caller branches on `reason`.
 */
export type StateErrorReason =
  /** The namespace's name is not one Lifeline accepts (pattern, length, reserved prefix). */
  | 'invalidNamespace'
  /** A key is empty, too long or starts with the reserved `__lifeline.` prefix. */
  | 'invalidKey'
  /** A value does not match the namespace's schema, or is not JSON. */
  | 'invalidValue'
  /** A message on the socket that is not a state request (only a hostile or broken client sends one). */
  | 'invalidRequest'
  /** A value or a batch larger than one request may carry. */
  | 'tooLarge'
  /** The stored schema version is newer than the caller's migrations know. */
  | 'unsupportedVersion'
  /** A migration threw or produced an invalid value; nothing of that step was written. */
  | 'migrationFailed'
  /** No state store: no folder open, Restricted Mode, or the store could not be opened. */
  | 'unavailable'
  /** The write did not reach the disk. */
  | 'storageFailed'
  /** The namespace handle was disposed, or Lifeline is shutting down. */
  | 'closed';

const REASONS: ReadonlySet<string> = new Set<StateErrorReason>([
  'invalidNamespace',
  'invalidKey',
  'invalidValue',
  'invalidRequest',
  'tooLarge',
  'unsupportedVersion',
  'migrationFailed',
  'unavailable',
  'storageFailed',
  'closed',
]);

export class StateError extends LifelineError<StateErrorReason> {
  constructor(reason: StateErrorReason, message: string, options?: { cause?: unknown }) {
    super('LifelineStateError', reason, message, options);
  }
}

/**
 * Any failure as a StateError: the holder's storage errors, and errors that crossed the socket
 * (which keep only their reason and message).
 */
export function toStateError(error: unknown): StateError {
  if (error instanceof StateError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (StorageError.is(error, 'validationFailed')) return new StateError('invalidValue', message, { cause: error });
  if (StorageError.is(error, 'unsupportedVersion')) return new StateError('unsupportedVersion', message, { cause: error });
  if (StorageError.is(error, 'migrationFailed')) return new StateError('migrationFailed', message, { cause: error });
  if (StorageError.is(error, 'closed')) return new StateError('closed', message, { cause: error });
  const reason = error instanceof LifelineError ? String(error.reason) : '';
  if (REASONS.has(reason)) return new StateError(reason as StateErrorReason, message, { cause: error });
  if (reason === 'disposed') return new StateError('closed', message, { cause: error });
  return new StateError('storageFailed', message, { cause: error });
}
