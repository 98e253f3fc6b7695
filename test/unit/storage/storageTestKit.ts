import { ackMarkPath } from '../../../src/core/storage/ackMark';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RecordCipher } from '../../../src/core/storage/cipher';
import type { DurableCodec } from '../../../src/core/storage/durableRecovery';
import { journalPath } from '../../../src/core/storage/durableRecovery';
import { StorageError } from '../../../src/core/storage/errors';
import { scanJournal } from '../../../src/core/storage/journalFormat';
import type { StoreManifest } from '../../../src/core/storage/storeManifest';
import { decodeManifest, encodeManifest, manifestPath } from '../../../src/core/storage/storeManifest';

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

/**
 * Rewrites a cleanly closed store's manifest as a crash soon after its open leaves it: not clean,
 * its newest journal acknowledged up to its header only. Tests that cut or tear a journal "as a
 * crash would" start from this; after a clean close the same cut is damage.
 */
export function markCrashedAtOpen(directory: string, name: string): void {
  const layout = { directory, name };
  const read = decodeManifest(readFileSync(manifestPath(layout)));
  if (typeof read === 'string') throw new Error(`no manifest to mark: ${read}`);
  const last = read.journals.at(-1);
  if (!last) throw new Error('the manifest names no journal');
  const bytes = readFileSync(journalPath(layout, last.generation));
  const scan = scanJournal(bytes);
  if (typeof scan.header !== 'object') throw new Error('the newest journal has no header');
  const firstRecord = scan.records[0]?.sequence;
  const headerEnd = {
    generation: last.generation,
    sequence: firstRecord === undefined ? last.sequence : firstRecord - 1,
    bytes: scan.header.byteLength,
    crc: crc32(bytes.subarray(0, scan.header.byteLength)),
  };
  const crashed: StoreManifest = { ...read, clean: false, journals: [...read.journals.slice(0, -1), headerEnd] };
  writeFileSync(manifestPath(layout), encodeManifest(crashed));
  // The ack mark is never synced: after a power cut it may be gone, and then only the manifest
  // says where acknowledged data ended (here, before every record of the newest journal).
  rmSync(ackMarkPath(layout), { force: true });
}
