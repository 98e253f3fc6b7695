import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { MAX_HEADER_BYTES, parseBackupHeader } from '../../../src/core/storage/backupFile';
import { BACKUP_MAGIC, defaultBackupLimits } from '../../../src/core/storage/backupFormat';
import type { BackupPart, BackupSource } from '../../../src/core/storage/backupTypes';

/** Shared by the backup tests: a recording BackupSource and a forger of hostile files. */

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function part(name: string, text: string, summary = `${text.length} chars`): BackupPart {
  return { name, bytes: new Uint8Array(Buffer.from(text)), summary };
}

export function sampleParts(): BackupPart[] {
  return [
    part('state', '{"keys":{"a":1,"b":"two"}}', '2 keys'),
    part('queue', 'queue snapshot bytes '.repeat(40), '3 jobs'),
    part('history', '', 'empty'),
  ];
}

/** A BackupSource that holds parts in memory and records every call, in order. */
export class FakeSource implements BackupSource {
  readonly calls: string[] = [];
  installed: BackupPart[][] = [];
  failInstall: Error | undefined;
  failSnapshot: Error | undefined;

  constructor(public live: BackupPart[] = sampleParts()) {}

  async snapshotParts(): Promise<BackupPart[]> {
    this.calls.push('snapshotParts');
    if (this.failSnapshot) throw this.failSnapshot;
    return this.live.map((p) => ({ ...p, bytes: Uint8Array.from(p.bytes) }));
  }

  async installParts(parts: readonly BackupPart[]): Promise<void> {
    this.calls.push('installParts');
    if (this.failInstall) throw this.failInstall;
    const copy = parts.map((p) => ({ ...p, bytes: Uint8Array.from(p.bytes) }));
    this.installed.push(copy);
    this.live = copy;
  }
}

export interface ForgeOptions {
  manifest?: unknown;
  manifestText?: string;
  body?: Uint8Array;
  version?: number;
  flags?: number;
  fingerprint?: string;
  bodyLengthOverride?: bigint;
}

/**
 * Frames arbitrary content as a plain backup file with correct checksums, so a test reaches the
 * checks behind them (manifest schema, names, sizes, part checksums, compression).
 */
export function forgeBackup(options: ForgeOptions): Uint8Array {
  const fingerprint = Buffer.from(options.fingerprint ?? '', 'latin1');
  const manifest = Buffer.from(options.manifestText ?? JSON.stringify(options.manifest ?? {}), 'utf8');
  const body = Buffer.from(options.body ?? new Uint8Array(0));
  const header = Buffer.alloc(13 + fingerprint.byteLength + 12);
  header.set(BACKUP_MAGIC, 0);
  header.writeUInt16BE(options.version ?? 1, 8);
  header.writeUInt16BE(options.flags ?? 0, 10);
  header.writeUInt8(fingerprint.byteLength, 12);
  header.set(fingerprint, 13);
  header.writeUInt32BE(manifest.byteLength, 13 + fingerprint.byteLength);
  header.writeBigUInt64BE(options.bodyLengthOverride ?? BigInt(body.byteLength), 17 + fingerprint.byteLength);
  const front = Buffer.concat([header, manifest, createHash('sha256').update(manifest).digest(), body]);
  return Buffer.concat([front, createHash('sha256').update(front).digest()]);
}

/** A valid manifest for `parts` laid out plainly; tests then spoil one field. */
export function manifestFor(parts: readonly BackupPart[], overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    formatVersion: 1,
    createdAt: '2026-11-22T10:00:00.000Z',
    appVersion: '0.1.0',
    reason: 'manual',
    parts: parts.map((p) => ({ name: p.name, size: p.bytes.byteLength, sha256: sha256Hex(p.bytes), summary: p.summary })),
    ...overrides,
  };
}

export function bodyOf(parts: readonly BackupPart[]): Uint8Array {
  return Buffer.concat(parts.map((p) => p.bytes));
}

/** A gzip stream of `size` zero bytes: about 1,000 times smaller than what it inflates to. */
export function zipBomb(size: number): Uint8Array {
  return gzipSync(Buffer.alloc(size), { level: 9 });
}

/**
 * Recomputes the manifest and file checksums of a (mutated) file whose header still parses, as a
 * deliberate attacker would; returns undefined when the header no longer parses.
 */
export function fixChecksums(file: Uint8Array): Uint8Array | undefined {
  let header;
  try {
    header = parseBackupHeader(file.subarray(0, MAX_HEADER_BYTES), file.byteLength, defaultBackupLimits);
  } catch {
    return undefined;
  }
  const copy = Buffer.from(file);
  const manifestEnd = header.headerLength + header.manifestLength;
  createHash('sha256').update(copy.subarray(header.headerLength, manifestEnd)).digest().copy(copy, manifestEnd);
  const trailer = copy.byteLength - 32;
  createHash('sha256').update(copy.subarray(0, trailer)).digest().copy(copy, trailer);
  return copy;
}

/** A fresh temp directory per test, removed afterwards. */
export function useTempDir(prefix: string): { readonly path: string } {
  const holder = { path: '' };
  beforeEach(() => {
    holder.path = mkdtempSync(join(tmpdir(), prefix));
  });
  afterEach(() => rmSync(holder.path, { recursive: true, force: true }));
  return holder;
}
