import { createCipheriv, createDecipheriv, createHmac, createSecretKey, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { KeyProvider, RecordCipher } from './cipher';
import { StorageError } from './errors';

/** AES-256 needs exactly 32 key bytes. */
export const KEY_BYTES = 32;
/** 96-bit IVs are GCM's native size; any other length is hashed into one and weakens the bound. */
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Smallest sealed value: an IV and a tag around an empty plaintext. */
export const SEAL_OVERHEAD = IV_BYTES + TAG_BYTES;

/**
 * Domain separation for the fingerprint: the same key used elsewhere (or a future fingerprint
 * scheme) gives a different value, and the fingerprint reveals nothing usable about the key.
 */
const FINGERPRINT_LABEL = 'lifeline key fingerprint v1';

/** A fresh random 256-bit key. Keep it in a KeyProvider and offer the user its recovery key. */
export function generateKey(): Uint8Array {
  return new Uint8Array(randomBytes(KEY_BYTES));
}

function checkKey(key: Uint8Array): void {
  if (key.byteLength !== KEY_BYTES) {
    throw new StorageError('invalidKey', `An encryption key must be ${KEY_BYTES} bytes long; this one has ${key.byteLength}.`);
  }
}

/**
 * First 16 hex digits of HMAC-SHA256(key, label): identifies a key in file headers (so a wrong
 * key is told apart from corruption) without revealing it.
 */
export function keyFingerprint(key: Uint8Array): string {
  checkKey(key);
  return createHmac('sha256', key).update(FINGERPRINT_LABEL).digest('hex').slice(0, 16);
}

/**
 * AES-256-GCM with a fresh random 96-bit IV per seal; output is IV || ciphertext || tag.
 * Random IVs are safe for about 2^32 seals per key (NIST SP 800-38D); a store rewrites a snapshot
 * or appends a record per seal, far below that over a key's life.
 */
export class AesGcmCipher implements RecordCipher {
  readonly keyFingerprint: string;
  // A KeyObject copies the bytes, so a caller that later zeroes or reuses its buffer changes nothing here.
  private readonly key: KeyObject;

  constructor(key: Uint8Array) {
    this.keyFingerprint = keyFingerprint(key);
    this.key = createSecretKey(key);
  }

  seal(plaintext: Uint8Array, associatedData: Uint8Array): Uint8Array {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(associatedData);
    const body = cipher.update(plaintext);
    const last = cipher.final();
    const tag = cipher.getAuthTag();
    const out = new Uint8Array(IV_BYTES + body.byteLength + last.byteLength + TAG_BYTES);
    out.set(iv, 0);
    out.set(body, IV_BYTES);
    out.set(last, IV_BYTES + body.byteLength);
    out.set(tag, out.byteLength - TAG_BYTES);
    return out;
  }

  open(sealed: Uint8Array, associatedData: Uint8Array): Uint8Array {
    if (sealed.byteLength < SEAL_OVERHEAD) {
      throw new StorageError(
        'decryptFailed',
        `Encrypted data is ${sealed.byteLength} bytes, shorter than the ${SEAL_OVERHEAD} bytes of its IV and tag: it is damaged.`,
      );
    }
    const iv = sealed.subarray(0, IV_BYTES);
    const tag = sealed.subarray(sealed.byteLength - TAG_BYTES);
    const ciphertext = sealed.subarray(IV_BYTES, sealed.byteLength - TAG_BYTES);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(associatedData);
      decipher.setAuthTag(tag);
      const body = decipher.update(ciphertext);
      const last = decipher.final();
      return last.byteLength === 0
        ? new Uint8Array(body.buffer, body.byteOffset, body.byteLength)
        : new Uint8Array(Buffer.concat([body, last]));
    } catch (error) {
      // GCM says only "unable to authenticate": wrong key, damaged bytes and a changed header look alike.
      throw new StorageError(
        'decryptFailed',
        `Encrypted data did not verify with key ${this.keyFingerprint}: it was changed or damaged, or it belongs with another key.`,
        { cause: error },
      );
    }
  }
}

/** Keys held in memory: for tests and for the offline tool, which gets its key from a recovery key. */
export class MemoryKeyProvider implements KeyProvider {
  private readonly keys = new Map<string, Uint8Array>();

  constructor(initial?: Iterable<readonly [string, Uint8Array]>) {
    for (const [keyId, key] of initial ?? []) this.keys.set(keyId, Uint8Array.from(key));
  }

  async getKey(keyId: string): Promise<Uint8Array | undefined> {
    const key = this.keys.get(keyId);
    return key === undefined ? undefined : Uint8Array.from(key);
  }

  async setKey(keyId: string, key: Uint8Array): Promise<void> {
    checkKey(key);
    this.keys.set(keyId, Uint8Array.from(key));
  }

  /** Forgets a key, as a keychain that lost it would: for "missing key refuses to open" tests. */
  deleteKey(keyId: string): void {
    this.keys.delete(keyId);
  }
}
