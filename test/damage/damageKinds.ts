import { FRAME_HEADER_BYTES, scanJournal } from '../../src/core/storage/journalFormat';

export { seededRandom } from '../kit/seededRandom';

export const damageKinds = [
  'flip',
  'zero',
  'garbage',
  'truncate',
  'truncateRecord',
  'truncateZero',
  'append',
  'duplicate',
  'delete',
  'replace',
  'hugeLength',
] as const;
export type DamageKind = (typeof damageKinds)[number];

/** One damage to one file of a store's image: `bytes` undefined means the file is deleted. */
export interface Damage {
  readonly kind: DamageKind;
  readonly file: string;
  /** Where and what, for the trial's line in a failure report. */
  readonly detail: string;
  readonly bytes: Buffer | undefined;
}

/** Byte offsets where each framed record of a journal file begins, and the file's valid end. */
export function recordStarts(bytes: Buffer): { starts: number[]; end: number } | undefined {
  const scan = scanJournal(bytes);
  if (typeof scan.header !== 'object') return undefined;
  const starts: number[] = [];
  let offset = scan.header.byteLength;
  for (const record of scan.records) {
    starts.push(offset);
    offset += FRAME_HEADER_BYTES + record.payload.length;
  }
  return { starts, end: offset };
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function span(random: () => number, length: number, max = 64): { at: number; size: number } {
  const at = Math.floor(random() * Math.max(1, length));
  return { at, size: Math.max(1, Math.min(length - at, 1 + Math.floor(random() * max))) };
}

/**
 * Every cut a journal can suffer at a record: exactly at each record's start (whole records lost)
 * and inside each record (a torn or damaged frame), and the whole file to 0 bytes.
 */
export function systematicDamages(image: ReadonlyMap<string, Buffer>, journals: ReadonlySet<string>, random: () => number): Damage[] {
  const damages: Damage[] = [];
  for (const [file, bytes] of image) {
    damages.push({ kind: 'delete', file, detail: 'deleted', bytes: undefined });
    damages.push({ kind: 'truncateZero', file, detail: 'truncated to 0 bytes', bytes: Buffer.alloc(0) });
    const frames = journals.has(file) ? recordStarts(bytes) : undefined;
    if (!frames) continue;
    for (const [index, start] of frames.starts.entries()) {
      const next = frames.starts[index + 1] ?? frames.end;
      damages.push({ kind: 'truncateRecord', file, detail: `cut at record ${index} (byte ${start})`, bytes: bytes.subarray(0, start) });
      const inside = start + 1 + Math.floor(random() * (next - start - 1));
      damages.push({
        kind: 'truncateRecord',
        file,
        detail: `cut inside record ${index} (byte ${inside})`,
        bytes: bytes.subarray(0, inside),
      });
    }
  }
  return damages;
}

/** One random damage of `kind` to `file`; `foreign` holds another store's files for `replace`. */
export function randomDamage(
  kind: DamageKind,
  file: string,
  bytes: Buffer,
  isJournal: boolean,
  foreign: ReadonlyMap<string, Buffer>,
  random: () => number,
): Damage {
  const copy = Buffer.from(bytes);
  const length = bytes.length;
  const damage = (detail: string, result: Buffer | undefined): Damage => ({ kind, file, detail, bytes: result });
  switch (kind) {
    case 'flip': {
      if (length === 0) return damage('flip in an empty file: appended one byte', Buffer.from([1]));
      const at = Math.floor(random() * length);
      const bit = Math.floor(random() * 8);
      copy[at] = (copy[at] as number) ^ (1 << bit);
      return damage(`bit ${bit} of byte ${at} flipped`, copy);
    }
    case 'zero': {
      const { at, size } = span(random, length, 256);
      copy.fill(0, at, at + size);
      return damage(`${size} bytes zeroed at ${at}`, copy);
    }
    case 'garbage': {
      const { at, size } = span(random, length);
      for (let index = at; index < at + size && index < length; index++) copy[index] = Math.floor(random() * 256);
      return damage(`${size} bytes of garbage at ${at}`, copy);
    }
    case 'truncate': {
      const at = Math.floor(random() * length);
      return damage(`truncated to ${at} of ${length} bytes`, bytes.subarray(0, at));
    }
    case 'truncateRecord': {
      const frames = isJournal ? recordStarts(bytes) : undefined;
      const start = frames && frames.starts.length > 0 ? pick(random, frames.starts) : Math.floor(random() * length);
      const at = random() < 0.5 ? start : Math.min(length - 1, start + 1 + Math.floor(random() * FRAME_HEADER_BYTES * 2));
      return damage(`truncated to ${at} bytes at a record`, bytes.subarray(0, at));
    }
    case 'truncateZero':
      return damage('truncated to 0 bytes', Buffer.alloc(0));
    case 'append': {
      const extra = Buffer.alloc(1 + Math.floor(random() * 64));
      for (let index = 0; index < extra.length; index++) extra[index] = Math.floor(random() * 256);
      return damage(`${extra.length} bytes appended`, Buffer.concat([bytes, extra]));
    }
    case 'duplicate': {
      const { at, size } = span(random, length, 128);
      const into = Math.floor(random() * (length + 1));
      return damage(
        `bytes ${at}..${at + size} duplicated at ${into}`,
        Buffer.concat([bytes.subarray(0, into), bytes.subarray(at, at + size), bytes.subarray(into)]),
      );
    }
    case 'delete':
      return damage('deleted', undefined);
    case 'replace': {
      const other = foreign.get(file) ?? pick(random, [...foreign.values()]);
      return damage(`replaced by another store's ${foreign.has(file) ? 'same' : 'other'} file (${other.length} bytes)`, Buffer.from(other));
    }
    case 'hugeLength': {
      const frames = isJournal ? recordStarts(bytes) : undefined;
      const at = frames && frames.starts.length > 0 ? pick(random, frames.starts) : Math.floor(random() * Math.max(1, length - 4));
      if (at + 4 > length) {
        return damage('huge length past the end: appended', Buffer.concat([bytes, Buffer.from([0xf0, 0xff, 0xff, 0xff])]));
      }
      copy.writeUInt32LE(0xfffffff0 - Math.floor(random() * 16), at);
      return damage(`a huge length field written at ${at}`, copy);
    }
  }
}
