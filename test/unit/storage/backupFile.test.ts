import * as assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as fc from 'fast-check';
import { AesGcmCipher, generateKey } from '../../../src/core/storage/aesGcmCipher';
import { decodeBackup, encodeBackup } from '../../../src/core/storage/backupFile';
import { readBackupFile, readBackupSummary, writeBackupFile } from '../../../src/core/storage/backupFileIo';
import { InvalidBackupError } from '../../../src/core/storage/backupFormat';
import type { BackupProblem } from '../../../src/core/storage/backupFormat';
import type { BackupPart } from '../../../src/core/storage/backupTypes';
import { StorageError } from '../../../src/core/storage/errors';
import { bodyOf, fixChecksums, forgeBackup, manifestFor, part, sampleParts, useTempDir, zipBomb } from './backupFixtures';

const metadata = { createdAt: new Date('2026-11-22T10:00:00.000Z'), appVersion: '0.1.0', reason: 'manual' as const };
const refused = (problem: BackupProblem) => (error: unknown) =>
  StorageError.is(error, 'invalidBackup') && InvalidBackupError.isProblem(error, problem);

function assertSameParts(actual: readonly BackupPart[], expected: readonly BackupPart[]): void {
  assert.deepEqual(
    actual.map((p) => ({ name: p.name, summary: p.summary, bytes: Buffer.from(p.bytes).toString('hex') })),
    expected.map((p) => ({ name: p.name, summary: p.summary, bytes: Buffer.from(p.bytes).toString('hex') })),
  );
}

describe('storage: backup file', () => {
  const dir = useTempDir('lifeline-backupfile-');

  for (const [label, options] of [
    ['plain', { compress: false }],
    ['gzip', { compress: true }],
    ['encrypted', { compress: false, encrypt: true }],
    ['encrypted and gzip', { compress: true, encrypt: true }],
  ] as const) {
    it(`round-trips every part (${label})`, async () => {
      const cipher = 'encrypt' in options ? new AesGcmCipher(generateKey()) : undefined;
      const parts = sampleParts();
      const file = await encodeBackup(parts, metadata, { compress: options.compress, cipher });
      const decoded = await decodeBackup(file, { cipher });
      assertSameParts(decoded.parts, parts);
      assert.equal(decoded.compressed, options.compress);
      assert.equal(decoded.keyFingerprint, cipher?.keyFingerprint);
      assert.equal(decoded.manifest.reason, 'manual');
      assert.equal(decoded.manifest.createdAt, '2026-11-22T10:00:00.000Z');
      assert.deepEqual(
        decoded.manifest.parts.map((p) => [p.name, p.size, p.summary]),
        parts.map((p) => [p.name, p.bytes.byteLength, p.summary]),
      );
    });
  }

  it('round-trips a backup with no parts', async () => {
    const decoded = await decodeBackup(await encodeBackup([], metadata));
    assert.equal(decoded.parts.length, 0);
  });

  it('starts with the magic number, the version and the flags, and carries the key fingerprint', async () => {
    const cipher = new AesGcmCipher(generateKey());
    const file = Buffer.from(await encodeBackup(sampleParts(), metadata, { cipher }));
    assert.equal(file.subarray(0, 8).toString('hex'), '894c4c424b0d0a1a');
    assert.equal(file.readUInt16BE(8), 1);
    assert.equal(file.readUInt16BE(10), 3);
    assert.equal(file.subarray(13, 13 + file.readUInt8(12)).toString('latin1'), cipher.keyFingerprint);
  });

  it('hides every part and summary when encrypted', async () => {
    const secret = part('state', 'export API_TOKEN=hunter2-very-secret', 'the summary is secret too');
    const file = Buffer.from(await encodeBackup([secret], metadata, { cipher: new AesGcmCipher(generateKey()), compress: false }));
    assert.ok(!file.includes('hunter2'));
    assert.ok(!file.includes('summary is secret'));
    assert.ok(!file.includes('"state"'));
  });

  it('tells a missing key and a wrong key apart from damage', async () => {
    const file = await encodeBackup(sampleParts(), metadata, { cipher: new AesGcmCipher(generateKey()) });
    await assert.rejects(decodeBackup(file), (error: unknown) => StorageError.is(error, 'missingKey'));
    await assert.rejects(decodeBackup(file, { cipher: new AesGcmCipher(generateKey()) }), (error: unknown) =>
      StorageError.is(error, 'wrongKey'),
    );
  });

  it('refuses an encrypted file whose sealed bytes were changed and checksums recomputed', async () => {
    const cipher = new AesGcmCipher(generateKey());
    const file = Buffer.from(await encodeBackup(sampleParts(), metadata, { cipher }));
    for (const offset of [60, file.byteLength - 40]) {
      const tampered = Buffer.from(file);
      tampered[offset] = (tampered[offset] ?? 0) ^ 1;
      const forged = fixChecksums(tampered);
      assert.ok(forged);
      await assert.rejects(decodeBackup(forged, { cipher }), (error: unknown) => StorageError.is(error, 'decryptFailed'));
    }
  });

  it('writes atomically and reads back from disk, and lists a summary without the body', async () => {
    const path = join(dir.path, 'a.llbackup');
    const size = await writeBackupFile(path, sampleParts(), metadata);
    const decoded = await readBackupFile(path);
    assertSameParts(decoded.parts, sampleParts());
    const summary = await readBackupSummary(path);
    assert.equal(summary.header.fileLength, size);
    assert.deepEqual(summary.manifest, decoded.manifest);
  });

  it('refuses parts it could not read back when writing', async () => {
    for (const name of ['..', '../x', '/abs', 'a\\b', '', 'a\0b', 'C:x']) {
      await assert.rejects(encodeBackup([part(name, 'x')], metadata), refused('partName'), name);
    }
    await assert.rejects(encodeBackup([part('state', 'x'), part('state', 'y')], metadata), refused('duplicatePart'));
  });

  describe('hostile files are refused with a specific error', () => {
    const parts = sampleParts();
    const valid = (): Uint8Array => forgeBackup({ manifest: manifestFor(parts), body: bodyOf(parts) });

    it('accepts the forged baseline (so every refusal below is the spoiled field)', async () => {
      assertSameParts((await decodeBackup(valid())).parts, parts);
    });

    it('garbage, empty files and other formats', async () => {
      await assert.rejects(decodeBackup(new Uint8Array(0)), refused('notABackup'));
      await assert.rejects(decodeBackup(new Uint8Array(Buffer.from('{"formatVersion":1}'))), refused('notABackup'));
      await assert.rejects(decodeBackup(gzipSync('hello')), refused('notABackup'));
      await assert.rejects(decodeBackup(new Uint8Array(4096).fill(0x41)), refused('notABackup'));
    });

    it('an unsupported format version', async () => {
      for (const version of [0, 2, 0xffff]) {
        await assert.rejects(
          decodeBackup(forgeBackup({ manifest: manifestFor(parts), body: bodyOf(parts), version })),
          refused('unsupportedVersion'),
        );
      }
    });

    it('unknown flags and a bad fingerprint field', async () => {
      await assert.rejects(
        decodeBackup(forgeBackup({ manifest: manifestFor(parts), body: bodyOf(parts), flags: 0x8 })),
        refused('unknownFlags'),
      );
      await assert.rejects(
        decodeBackup(forgeBackup({ manifest: manifestFor(parts), body: bodyOf(parts), fingerprint: 'abcd' })),
        refused('badFingerprint'),
      );
      await assert.rejects(
        decodeBackup(forgeBackup({ manifest: manifestFor(parts), body: bodyOf(parts), flags: 2 })),
        refused('badFingerprint'),
      );
      await assert.rejects(
        decodeBackup(forgeBackup({ manifest: manifestFor(parts), body: bodyOf(parts), flags: 2, fingerprint: 'zz' })),
        refused('badFingerprint'),
      );
    });

    it('a file truncated at every offset', async () => {
      for (const file of [valid(), await encodeBackup(parts, metadata, { cipher: new AesGcmCipher(generateKey()) })]) {
        for (let length = 1; length < file.byteLength; length++) {
          await assert.rejects(decodeBackup(file.subarray(0, length)), refused('truncated'), `length ${length}`);
        }
      }
    });

    it('data after the end', async () => {
      await assert.rejects(decodeBackup(Buffer.concat([valid(), Buffer.from('x')])), refused('trailingData'));
    });

    it('a changed byte anywhere (file checksum)', async () => {
      const file = valid();
      const headerEnd = 25;
      for (let i = headerEnd; i < file.byteLength; i++) {
        const copy = Uint8Array.from(file);
        copy[i] = (copy[i] ?? 0) ^ 0x10;
        await assert.rejects(decodeBackup(copy), refused('fileChecksum'), `byte ${i}`);
      }
    });

    it('a wrong part checksum', async () => {
      const manifest = manifestFor(parts);
      const entries = manifest.parts as { sha256: string }[];
      if (entries[1]) entries[1].sha256 = '0'.repeat(64);
      await assert.rejects(decodeBackup(forgeBackup({ manifest, body: bodyOf(parts) })), refused('partChecksum'));
    });

    it('a manifest that does not match its checksum', async () => {
      const file = Buffer.from(valid());
      file[30] = (file[30] ?? 0) ^ 1;
      await assert.rejects(readBackupSummaryFrom(dir.path, file), refused('manifestChecksum'));
    });

    it('a part larger than the cap, or a total past it', async () => {
      await assert.rejects(decodeBackup(valid(), { limits: { maxPartBytes: 100 } }), refused('partTooLarge'));
      await assert.rejects(decodeBackup(valid(), { limits: { maxTotalBytes: 100 } }), refused('totalTooLarge'));
      const huge = manifestFor(parts);
      (huge.parts as { size: number }[])[0]!.size = 2 ** 50;
      await assert.rejects(decodeBackup(forgeBackup({ manifest: huge, body: bodyOf(parts) })), refused('partTooLarge'));
    });

    it('declared sizes past the end of the file or the body', async () => {
      await assert.rejects(
        decodeBackup(forgeBackup({ manifest: manifestFor(parts), body: bodyOf(parts), bodyLengthOverride: 2n ** 63n })),
        refused('truncated'),
      );
      await assert.rejects(
        decodeBackup(forgeBackup({ manifest: manifestFor(parts), body: bodyOf(parts), bodyLengthOverride: 10_000n })),
        refused('truncated'),
      );
      const bigger = manifestFor(parts);
      (bigger.parts as { size: number }[])[2]!.size = 5;
      await assert.rejects(decodeBackup(forgeBackup({ manifest: bigger, body: bodyOf(parts) })), refused('sizeMismatch'));
      await assert.rejects(
        decodeBackup(forgeBackup({ manifest: manifestFor(parts), body: Buffer.concat([bodyOf(parts), Buffer.from('extra')]) })),
        refused('sizeMismatch'),
      );
    });

    it('part names that are paths, empty, odd or duplicated', async () => {
      const names = [
        '..',
        '../state',
        '../../etc/passwd',
        '/etc/passwd',
        'C:\\Windows\\x',
        'a/b',
        'a\\b',
        '',
        'st\0ate',
        '.hidden',
        'con',
        'x'.repeat(65),
      ];
      for (const name of names) {
        const manifest = manifestFor([part(name, 'x')]);
        await assert.rejects(decodeBackup(forgeBackup({ manifest, body: Buffer.from('x') })), refused('partName'), JSON.stringify(name));
      }
      for (const [a, b] of [
        ['state', 'state'],
        ['state', 'STATE'],
      ] as const) {
        const twins = [part(a, 'x'), part(b, 'y')];
        await assert.rejects(decodeBackup(forgeBackup({ manifest: manifestFor(twins), body: bodyOf(twins) })), refused('duplicatePart'));
      }
    });

    it('a manifest that is not JSON, breaks the schema or is too large', async () => {
      await assert.rejects(
        decodeBackup(forgeBackup({ manifestText: '{"formatVersion":1,', body: bodyOf(parts) })),
        refused('manifestInvalid'),
      );
      await assert.rejects(
        decodeBackup(forgeBackup({ manifest: manifestFor(parts, { reason: 'because' }), body: bodyOf(parts) })),
        refused('manifestInvalid'),
      );
      await assert.rejects(
        decodeBackup(forgeBackup({ manifest: manifestFor(parts, { extra: true }), body: bodyOf(parts) })),
        refused('manifestInvalid'),
      );
      await assert.rejects(
        decodeBackup(forgeBackup({ manifest: manifestFor(parts, { formatVersion: 2 }), body: bodyOf(parts) })),
        refused('manifestInvalid'),
      );
      await assert.rejects(
        decodeBackup(forgeBackup({ manifest: manifestFor(parts, { createdAt: 'yesterday' }), body: bodyOf(parts) })),
        refused('manifestInvalid'),
      );
      await assert.rejects(decodeBackup(valid(), { limits: { maxManifestBytes: 10 } }), refused('manifestTooLarge'));
      const many = Array.from({ length: 5 }, (_, i) => part(`p${i}`, 'x'));
      await assert.rejects(
        decodeBackup(forgeBackup({ manifest: manifestFor(many), body: bodyOf(many) }), { limits: { maxParts: 4 } }),
        refused('tooManyParts'),
      );
    });

    it('a zip bomb, without inflating it', async () => {
      const bomb = zipBomb(128 * 1024 * 1024);
      const claimed = [part('state', 'x'.repeat(1000))];
      const before = process.memoryUsage().arrayBuffers;
      await assert.rejects(
        decodeBackup(forgeBackup({ manifest: manifestFor(claimed), body: bomb, flags: 1 })),
        refused('inflatedTooLarge'),
      );
      assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024);
    });

    it('a damaged compressed body', async () => {
      await assert.rejects(
        decodeBackup(forgeBackup({ manifest: manifestFor(parts), body: bodyOf(parts), flags: 1 })),
        refused('corruptCompression'),
      );
      const packed = gzipSync(Buffer.from(bodyOf(parts)));
      await assert.rejects(
        decodeBackup(forgeBackup({ manifest: manifestFor(parts), body: packed.subarray(0, packed.byteLength - 4), flags: 1 })),
        refused('corruptCompression'),
      );
    });

    it('a file larger than any backup could be, before reading it', async () => {
      const path = join(dir.path, 'big.llbackup');
      writeFileSync(path, Buffer.alloc(3 * 1024 * 1024));
      await assert.rejects(readBackupFile(path, { limits: { maxTotalBytes: 1024, maxManifestBytes: 1024 } }), refused('fileTooLarge'));
    });
  });

  describe('fuzz', () => {
    const allowed = new Set(['invalidBackup', 'decryptFailed', 'missingKey', 'wrongKey']);
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('garbage' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
      fc.record({
        kind: fc.constant('hugeLength' as const),
        at: fc.constantFrom(12, 13, 17, 21, 29, 33),
        value: fc.constantFrom(0xffffffff, 0x7fffffff, 0x10000000, 1),
      }),
    );
    type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

    function mutate(file: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
      let bytes = Buffer.from(file);
      for (const m of mutations) {
        const at = bytes.byteLength === 0 ? 0 : m.at % bytes.byteLength;
        if (m.kind === 'flip') {
          if (bytes.byteLength > 0) bytes[at] = (bytes[at] ?? 0) ^ (1 << m.bit);
        } else if (m.kind === 'truncate') bytes = bytes.subarray(0, at);
        else if (m.kind === 'garbage') bytes = Buffer.concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at + m.bytes.byteLength)]);
        else if (m.kind === 'insert') bytes = Buffer.concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at)]);
        else if (bytes.byteLength >= m.at + 4) bytes.writeUInt32BE(m.value, m.at);
      }
      return bytes;
    }

    const cipher = new AesGcmCipher(generateKey());
    const sources: [string, Promise<Uint8Array>, AesGcmCipher | undefined][] = [
      ['plain', encodeBackup(sampleParts(), metadata, { compress: false }), undefined],
      ['gzip', encodeBackup(sampleParts(), metadata, { compress: true }), undefined],
      ['encrypted', encodeBackup(sampleParts(), metadata, { compress: true, cipher }), cipher],
    ];

    for (const [label, filePromise, key] of sources) {
      it(`never accepts a mutated ${label} file, and throws only storage errors (700 runs)`, async () => {
        const file = await filePromise;
        await fc.assert(
          fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
            const mutated = mutate(file, mutations);
            fc.pre(!Buffer.from(mutated).equals(Buffer.from(file)));
            try {
              await decodeBackup(mutated, { cipher: key });
            } catch (error) {
              assert.ok(error instanceof StorageError && allowed.has(error.reason), `unexpected ${String(error)}`);
              return;
            }
            assert.fail('a mutated file was accepted');
          }),
          { numRuns: 700 },
        );
      });

      it(`throws only storage errors when a forger also fixes the checksums (${label}, 400 runs)`, async () => {
        const file = await filePromise;
        await fc.assert(
          fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
            const forged = fixChecksums(mutate(file, mutations)) ?? mutate(file, mutations);
            try {
              const decoded = await decodeBackup(forged, { cipher: key });
              // Possible only when a forger rewrote a manifest field with no checksum over it (a summary, a date).
              assert.equal(decoded.parts.length, 3);
            } catch (error) {
              assert.ok(error instanceof StorageError && allowed.has(error.reason), `unexpected ${String(error)}`);
            }
          }),
          { numRuns: 400 },
        );
      });
    }
  });
});

async function readBackupSummaryFrom(dir: string, file: Uint8Array): Promise<unknown> {
  const path = join(dir, 'summary.llbackup');
  writeFileSync(path, file);
  return readBackupSummary(path);
}
