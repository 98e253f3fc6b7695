import { crc32 } from 'node:zlib';
import { StorageError } from './errors';

/**
 * The journal's on-disk format. A file is a header and then framed records:
 *
 *   header: magic(8) version(u16) flags(u16) generation(u32) fingerprintLength(u8) fingerprint crc32(u32)
 *   frame:  payloadLength(u32) sequence(u64) crc32(u32 over length, sequence and payload) payload
 *
 * All integers little-endian. Sequence numbers are global to a store and rise by exactly one per
 * record, across journal generations, so a gap anywhere is detected. When the file is encrypted
 * (flag bit 0) each payload is sealed by the RecordCipher with the generation and sequence as
 * associated data, so a record cannot be moved or replayed elsewhere undetected.
 */
export const JOURNAL_MAGIC = Buffer.from('LLJRNL\r\n', 'latin1');
export const JOURNAL_FORMAT_VERSION = 1;
export const FRAME_HEADER_BYTES = 16;
/** A larger length field is damage, not a record: no commit is this big. */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;
const FLAG_ENCRYPTED = 1;
/**
 * Written by a store that keeps a manifest (storeManifest.ts): a journal with this flag and no
 * manifest beside it means the manifest was lost, not that the store predates manifests.
 */
const FLAG_MANIFESTED = 2;
const FIXED_HEADER_BYTES = 17;

export interface JournalHeader {
  readonly version: number;
  readonly generation: number;
  readonly encrypted: boolean;
  /** Key fingerprint when encrypted, '' otherwise. */
  readonly keyFingerprint: string;
  readonly byteLength: number;
  /** Its store keeps a manifest. */
  readonly manifested: boolean;
}

export interface ScannedRecord {
  readonly sequence: number;
  /** As stored: still sealed when the journal is encrypted. */
  readonly payload: Uint8Array;
}

export interface JournalDamage {
  readonly offset: number;
  /** Bytes from the damage to the end of the file. */
  readonly bytes: number;
  /** `tail`: nothing valid after it (a torn write looks like this); `middle`: valid records follow. */
  readonly kind: 'tail' | 'middle';
  /** The damaged frame was complete (its length fit in the file) but failed its checksum or sequence. */
  readonly droppedCompleteRecord: boolean;
}

export type JournalScan =
  | { readonly header: 'torn' } // shorter than a header and a prefix of one: a crash during creation
  | { readonly header: 'corrupt'; readonly detail: string }
  | { readonly header: JournalHeader; readonly records: ScannedRecord[]; readonly validLength: number; readonly damage?: JournalDamage };

export function encodeJournalHeader(generation: number, keyFingerprint: string | undefined, manifested = false): Buffer {
  const fingerprint = Buffer.from(keyFingerprint ?? '', 'latin1');
  if (fingerprint.length > 255) throw new RangeError('key fingerprint longer than 255 bytes');
  const header = Buffer.alloc(FIXED_HEADER_BYTES + fingerprint.length + 4);
  JOURNAL_MAGIC.copy(header, 0);
  header.writeUInt16LE(JOURNAL_FORMAT_VERSION, 8);
  header.writeUInt16LE((keyFingerprint === undefined ? 0 : FLAG_ENCRYPTED) | (manifested ? FLAG_MANIFESTED : 0), 10);
  header.writeUInt32LE(generation, 12);
  header.writeUInt8(fingerprint.length, 16);
  fingerprint.copy(header, FIXED_HEADER_BYTES);
  header.writeUInt32LE(crc32(header.subarray(0, FIXED_HEADER_BYTES + fingerprint.length)), FIXED_HEADER_BYTES + fingerprint.length);
  return header;
}

export function encodeFrame(sequence: number, payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt32LE(payload.length, 0);
  frame.writeBigUInt64LE(BigInt(sequence), 4);
  frame.set(payload, FRAME_HEADER_BYTES);
  frame.writeUInt32LE(crc32(frame.subarray(FRAME_HEADER_BYTES), crc32(frame.subarray(0, 12))), 12);
  return frame;
}

/** Associated data binding an encrypted payload to its place in the store. */
export function recordAssociatedData(generation: number, sequence: number): Buffer {
  const data = Buffer.alloc(16);
  data.write('LLJR', 0, 'latin1');
  data.writeUInt32LE(generation, 4);
  data.writeBigUInt64LE(BigInt(sequence), 8);
  return data;
}

function parseHeader(bytes: Buffer): JournalHeader | 'torn' | { detail: string } {
  const prefix = Math.min(bytes.length, JOURNAL_MAGIC.length);
  if (!bytes.subarray(0, prefix).equals(JOURNAL_MAGIC.subarray(0, prefix))) return { detail: 'not a Lifeline journal (bad magic)' };
  if (bytes.length < FIXED_HEADER_BYTES) return 'torn';
  const fingerprintLength = bytes.readUInt8(16);
  const length = FIXED_HEADER_BYTES + fingerprintLength + 4;
  if (bytes.length < length) return 'torn';
  if (crc32(bytes.subarray(0, length - 4)) !== bytes.readUInt32LE(length - 4)) return { detail: 'header checksum mismatch' };
  const version = bytes.readUInt16LE(8);
  if (version !== JOURNAL_FORMAT_VERSION) {
    throw new StorageError(
      'unsupportedVersion',
      `This journal was written by a newer Lifeline (format ${version}); update Lifeline to open it.`,
    );
  }
  const flags = bytes.readUInt16LE(10);
  return {
    version,
    generation: bytes.readUInt32LE(12),
    encrypted: (flags & FLAG_ENCRYPTED) !== 0,
    keyFingerprint: bytes.toString('latin1', FIXED_HEADER_BYTES, FIXED_HEADER_BYTES + fingerprintLength),
    byteLength: length,
    manifested: (flags & FLAG_MANIFESTED) !== 0,
  };
}

/** The frame at `offset` if it is whole and its checksum verifies. */
function readFrame(bytes: Buffer, offset: number): { sequence: number; payload: Buffer; end: number } | 'incomplete' | 'bad' {
  if (bytes.length - offset < FRAME_HEADER_BYTES) return 'incomplete';
  const length = bytes.readUInt32LE(offset);
  if (length > MAX_RECORD_BYTES || offset + FRAME_HEADER_BYTES + length > bytes.length) return 'incomplete';
  const sequence = bytes.readBigUInt64LE(offset + 4);
  const end = offset + FRAME_HEADER_BYTES + length;
  const expected = crc32(bytes.subarray(offset + FRAME_HEADER_BYTES, end), crc32(bytes.subarray(offset, offset + 12)));
  if (expected !== bytes.readUInt32LE(offset + 12) || sequence > BigInt(Number.MAX_SAFE_INTEGER)) return 'bad';
  return { sequence: Number(sequence), payload: bytes.subarray(offset + FRAME_HEADER_BYTES, end), end };
}

/**
 * Is there any valid frame after `from`? Decides whether damage is a torn tail (safe to cut) or
 * damage in the middle (must be quarantined, never silently cut). Candidates must carry a
 * sequence number after the last good one, which rejects almost all garbage before the checksum.
 */
function validFrameAfter(bytes: Buffer, from: number, lastSequence: number | undefined): boolean {
  for (let offset = from; offset + FRAME_HEADER_BYTES <= bytes.length; offset++) {
    const length = bytes.readUInt32LE(offset);
    if (offset + FRAME_HEADER_BYTES + length > bytes.length) continue;
    const sequence = bytes.readBigUInt64LE(offset + 4);
    if (lastSequence !== undefined && (sequence <= BigInt(lastSequence) || sequence > BigInt(lastSequence) + 1_000_000n)) continue;
    const frame = readFrame(bytes, offset);
    if (typeof frame === 'object') return true;
  }
  return false;
}

/** Reads a whole journal file's bytes. Pure: never throws except for a newer format version. */
export function scanJournal(bytes: Buffer): JournalScan {
  const header = parseHeader(bytes);
  if (header === 'torn') return { header: 'torn' };
  if ('detail' in header) return { header: 'corrupt', detail: header.detail };
  const records: ScannedRecord[] = [];
  let offset = header.byteLength;
  let lastSequence: number | undefined;
  while (offset < bytes.length) {
    const frame = readFrame(bytes, offset);
    const badSequence = typeof frame === 'object' && lastSequence !== undefined && frame.sequence !== lastSequence + 1;
    if (typeof frame !== 'object' || badSequence) {
      const complete = frame === 'bad' || badSequence;
      const kind = validFrameAfter(bytes, offset + 1, lastSequence) ? 'middle' : 'tail';
      return {
        header,
        records,
        validLength: offset,
        damage: { offset, bytes: bytes.length - offset, kind, droppedCompleteRecord: complete },
      };
    }
    records.push({ sequence: frame.sequence, payload: frame.payload });
    lastSequence = frame.sequence;
    offset = frame.end;
  }
  return { header, records, validLength: offset };
}

/** A commit of several records is one frame, so a crash keeps all of them or none. */
export function encodeBatch(parts: readonly Uint8Array[]): Buffer {
  let total = 4;
  for (const part of parts) total += 4 + part.length;
  const out = Buffer.allocUnsafe(total);
  out.writeUInt32LE(parts.length, 0);
  let offset = 4;
  for (const part of parts) {
    out.writeUInt32LE(part.length, offset);
    out.set(part, offset + 4);
    offset += 4 + part.length;
  }
  return out;
}

export function decodeBatch(payload: Uint8Array): Buffer[] {
  const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (bytes.length < 4) throw new StorageError('corruptJournal', 'A journal record is too short to hold a batch.');
  const count = bytes.readUInt32LE(0);
  const parts: Buffer[] = [];
  let offset = 4;
  for (let index = 0; index < count; index++) {
    if (offset + 4 > bytes.length) throw new StorageError('corruptJournal', 'A journal batch is shorter than its count says.');
    const length = bytes.readUInt32LE(offset);
    if (offset + 4 + length > bytes.length) throw new StorageError('corruptJournal', 'A journal batch entry runs past its record.');
    parts.push(bytes.subarray(offset + 4, offset + 4 + length));
    offset += 4 + length;
  }
  if (offset !== bytes.length) throw new StorageError('corruptJournal', 'A journal batch has trailing bytes.');
  return parts;
}
