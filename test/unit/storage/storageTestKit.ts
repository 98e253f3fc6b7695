import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RecordCipher } from '../../../src/core/storage/cipher';
import type { DurableCodec } from '../../../src/core/storage/durableRecovery';
import { StorageError } from '../../../src/core/storage/errors';

/** A fresh temp folder per test; `cleanup` removes it. */
export function makeTempDir(prefix = 'lifeline-storage-', parent = tmpdir()): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(parent, prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A test-only AES-256-GCM RecordCipher (the real one is aesGcmCipher.ts). */
export function testCipher(key: Uint8Array = randomBytes(32)): RecordCipher {
  const keyFingerprint = createHash('sha256').update(key).digest('hex').slice(0, 16);
  return {
    keyFingerprint,
    seal(plaintext, associatedData) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(associatedData);
      const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return Buffer.concat([iv, body, cipher.getAuthTag()]);
    },
    open(sealed, associatedData) {
      try {
        const bytes = Buffer.from(sealed);
        const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, 12));
        decipher.setAAD(associatedData);
        decipher.setAuthTag(bytes.subarray(bytes.length - 16));
        return Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]);
      } catch (error) {
        throw new StorageError('decryptFailed', 'The data does not decrypt with this key.', { cause: error });
      }
    },
  };
}

/** A tiny state for DurableStore tests: a list of the numbers committed. */
export const listCodec: DurableCodec<number[], number> = {
  empty: () => [],
  apply: (state, record) => {
    state.push(record);
    return state;
  },
  encodeRecord: (record) => Buffer.from(String(record)),
  decodeRecord: (bytes) => {
    const value = Number(Buffer.from(bytes).toString());
    if (!Number.isInteger(value)) throw new Error('not a number');
    return value;
  },
  snapshot: (state) => {
    const frozen = [...state];
    return async () => Buffer.from(JSON.stringify(frozen));
  },
  decodeSnapshot: (payload) => {
    const parsed: unknown = JSON.parse(Buffer.from(payload).toString());
    if (!Array.isArray(parsed) || !parsed.every((value) => Number.isInteger(value))) throw new Error('not a list');
    return parsed as number[];
  },
};
