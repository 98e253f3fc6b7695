import { createHash } from 'node:crypto';
import { KEY_BYTES, keyFingerprint } from './aesGcmCipher';
import { StorageError } from './errors';

/**
 * A recovery key is the encryption key written so a person can copy it onto paper and type it
 * back (the OS keychain behind SecretStorage can lose a key: see docs/platform.md).
 *
 * Layout: the 32 key bytes plus a 3-byte checksum (35 bytes = 280 bits = exactly 56 characters of
 * Crockford base32), cut into 8 groups of 7 characters, each followed by a Luhn mod 32 check
 * character. The per-group check catches every single mistyped character and most swaps of
 * neighbours and says which group is wrong; the overall checksum catches what slips past that.
 * Crockford's alphabet has no I, L, O or U, and reading O as 0 and I or L as 1 forgives the usual
 * misreadings.
 */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const GROUPS = 8;
const DATA_PER_GROUP = 7;
const GROUP_LENGTH = DATA_PER_GROUP + 1;
const CHECKSUM_BYTES = 3;
const CHECKSUM_LABEL = 'lifeline recovery key v1';
export const RECOVERY_KEY_CHARACTERS = GROUPS * GROUP_LENGTH;

export type RecoveryKeyProblem = 'badCharacter' | 'wrongLength' | 'groupChecksum' | 'checksumMismatch';

/** A recovery key that cannot be read back; `problem` says which check failed, `group` where (1-based). */
export class RecoveryKeyError extends StorageError {
  constructor(
    readonly problem: RecoveryKeyProblem,
    message: string,
    readonly group?: number,
  ) {
    super('invalidRecoveryKey', message);
  }
}

function checksum(key: Uint8Array): Buffer {
  return createHash('sha256').update(CHECKSUM_LABEL).update(key).digest().subarray(0, CHECKSUM_BYTES);
}

/** Luhn mod N (N = 32): doubles every second value from the right, folding digits in base N. */
function luhnCheck(values: readonly number[]): number {
  const n = ALPHABET.length;
  let factor = 2;
  let sum = 0;
  for (let i = values.length - 1; i >= 0; i--) {
    const product = factor * (values[i] ?? 0);
    sum += Math.floor(product / n) + (product % n);
    factor = factor === 2 ? 1 : 2;
  }
  return (n - (sum % n)) % n;
}

function toBase32(bytes: Uint8Array): number[] {
  const values: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      values.push((buffer >>> (bits - 5)) & 31);
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  // 35 bytes are exactly 56 characters, so no bits are left over.
  return values;
}

function fromBase32(values: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(Math.floor((values.length * 5) / 8));
  let buffer = 0;
  let bits = 0;
  let index = 0;
  for (const value of values) {
    buffer = (buffer << 5) | value;
    bits += 5;
    if (bits >= 8) {
      bytes[index++] = (buffer >>> (bits - 8)) & 0xff;
      bits -= 8;
    }
    buffer &= (1 << bits) - 1;
  }
  return bytes;
}

/** Formats a 32-byte key as `XXXXXXXX-XXXXXXXX-…` (8 groups of 8 characters). */
export function exportRecoveryKey(key: Uint8Array): string {
  if (key.byteLength !== KEY_BYTES) {
    throw new StorageError('invalidKey', `An encryption key must be ${KEY_BYTES} bytes long; this one has ${key.byteLength}.`);
  }
  const payload = new Uint8Array(KEY_BYTES + CHECKSUM_BYTES);
  payload.set(key, 0);
  payload.set(checksum(key), KEY_BYTES);
  const values = toBase32(payload);
  const groups: string[] = [];
  for (let g = 0; g < GROUPS; g++) {
    const data = values.slice(g * DATA_PER_GROUP, (g + 1) * DATA_PER_GROUP);
    groups.push([...data, luhnCheck(data)].map((value) => ALPHABET[value]).join(''));
  }
  return groups.join('-');
}

/**
 * Reads a recovery key back. Spaces, dashes and case do not matter; O reads as 0, I and L as 1.
 * With `expectedFingerprint` (from an encrypted file's header), a well-formed key for another
 * store is refused with StorageError('wrongKey') rather than failing later as a decryption error.
 */
export function importRecoveryKey(text: string, expectedFingerprint?: string): Uint8Array {
  const cleaned = text.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  const values: number[] = [];
  for (let i = 0; i < cleaned.length; i++) {
    const value = ALPHABET.indexOf(cleaned[i] ?? '');
    if (value < 0) {
      throw new RecoveryKeyError(
        'badCharacter',
        `The recovery key has a character that cannot be in one: "${cleaned[i]}" at position ${i + 1} (group ${Math.floor(i / GROUP_LENGTH) + 1}).`,
        Math.floor(i / GROUP_LENGTH) + 1,
      );
    }
    values.push(value);
  }
  if (values.length !== RECOVERY_KEY_CHARACTERS) {
    throw new RecoveryKeyError(
      'wrongLength',
      `A recovery key has ${RECOVERY_KEY_CHARACTERS} characters (${GROUPS} groups of ${GROUP_LENGTH}); this one has ${values.length}.`,
    );
  }
  const data: number[] = [];
  for (let g = 0; g < GROUPS; g++) {
    const group = values.slice(g * GROUP_LENGTH, (g + 1) * GROUP_LENGTH);
    const groupData = group.slice(0, DATA_PER_GROUP);
    if (luhnCheck(groupData) !== group[DATA_PER_GROUP]) {
      throw new RecoveryKeyError('groupChecksum', `Group ${g + 1} of the recovery key looks mistyped: check it against your copy.`, g + 1);
    }
    data.push(...groupData);
  }
  const payload = fromBase32(data);
  const key = payload.slice(0, KEY_BYTES);
  if (!checksum(key).equals(payload.subarray(KEY_BYTES))) {
    throw new RecoveryKeyError(
      'checksumMismatch',
      'The recovery key does not add up: some characters are mistyped. Check it against your copy.',
    );
  }
  if (expectedFingerprint !== undefined && keyFingerprint(key) !== expectedFingerprint) {
    throw new StorageError(
      'wrongKey',
      `This recovery key is valid but belongs to another key (${keyFingerprint(key)}), not the one this data was encrypted with (${expectedFingerprint}).`,
    );
  }
  return key;
}
