import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../../../src/core/clock';
import { AuditLog, readAuditLog } from '../../../src/core/storage/auditLog';
import { StorageError } from '../../../src/core/storage/errors';
import { decodeSnapshot, encodeSnapshot, readSnapshotHeader, writeSnapshot } from '../../../src/core/storage/snapshot';
import { makeTempDir, testCipher } from './storageTestKit';

describe('storage: snapshot', () => {
  let temp: ReturnType<typeof makeTempDir>;
  beforeEach(() => {
    temp = makeTempDir();
  });
  afterEach(() => temp.cleanup());

  const payload = Buffer.from(Array.from({ length: 5000 }, (_, index) => index % 251));
  const cipher = testCipher();

  for (const variant of [{}, { compress: true }, { cipher }, { cipher, compress: true }]) {
    it(`round-trips binary payloads given whole or in pieces (${JSON.stringify({ compress: variant.compress, encrypted: 'cipher' in variant })})`, async () => {
      const whole = await encodeSnapshot(payload, { generation: 7, sequence: 123456789, ...variant });
      const pieces = await encodeSnapshot([payload.subarray(0, 10), payload.subarray(10, 4000), payload.subarray(4000)], {
        generation: 7,
        sequence: 123456789,
        ...variant,
      });
      for (const bytes of [whole, pieces]) {
        const decoded = await decodeSnapshot(bytes, 'cipher' in variant ? cipher : undefined);
        assert.deepEqual(decoded.payload, payload);
        assert.equal(decoded.header.generation, 7);
        assert.equal(decoded.header.sequence, 123456789);
        assert.equal(decoded.header.encrypted, 'cipher' in variant);
        assert.equal(decoded.header.compressed, variant.compress === true);
      }
    });
  }

  it('writes atomically and reads back', async () => {
    const path = join(temp.dir, 'x.snapshot');
    const size = await writeSnapshot(path, [payload, payload], { generation: 1, sequence: 2, compress: true });
    const bytes = readFileSync(path);
    assert.equal(bytes.length, size);
    assert.deepEqual((await decodeSnapshot(bytes, undefined)).payload, Buffer.concat([payload, payload]));
  });

  it('detects a flipped bit anywhere as corruption, or as a key problem only when the key is wrong', async () => {
    const bytes = await encodeSnapshot(payload.subarray(0, 300), { generation: 1, sequence: 1, cipher });
    for (let offset = 0; offset < bytes.length; offset++) {
      const damaged = Buffer.from(bytes);
      damaged[offset] = (damaged[offset] as number) ^ 0x10;
      await assert.rejects(decodeSnapshot(damaged, cipher), (error) => StorageError.is(error, 'corruptSnapshot'), `offset ${offset}`);
    }
  });

  it('tells a missing key and a wrong key apart from damage', async () => {
    const bytes = await encodeSnapshot(payload, { generation: 1, sequence: 1, cipher });
    assert.equal(readSnapshotHeader(bytes).keyFingerprint, cipher.keyFingerprint);
    await assert.rejects(decodeSnapshot(bytes, undefined), (error) => StorageError.is(error, 'missingKey'));
    await assert.rejects(decodeSnapshot(bytes, testCipher()), (error) => StorageError.is(error, 'wrongKey'));
    const impostor = { ...testCipher(), keyFingerprint: cipher.keyFingerprint };
    await assert.rejects(decodeSnapshot(bytes, impostor), (error) => StorageError.is(error, 'decryptFailed'));
  });

  it('refuses a newer format version with unsupportedVersion', async () => {
    const bytes = await encodeSnapshot(payload, { generation: 1, sequence: 1 });
    bytes.writeUInt16LE(2, 8);
    const { crc32 } = await import('node:zlib');
    bytes.writeUInt32LE(crc32(bytes.subarray(0, 37)), 37);
    await assert.rejects(decodeSnapshot(bytes, undefined), (error) => StorageError.is(error, 'unsupportedVersion'));
  });
});

describe('storage: audit log', () => {
  let temp: ReturnType<typeof makeTempDir>;
  beforeEach(() => {
    temp = makeTempDir();
  });
  afterEach(() => temp.cleanup());

  it('appends what, when and which store, and rotates at its size cap', async () => {
    const path = join(temp.dir, 'audit.log');
    let now = 1000;
    const log = new AuditLog({ path, maxBytes: 400, clock: { ...systemClock, now: () => now++ } });
    for (let index = 0; index < 10; index++) log.record({ store: 'state', action: 'set', detail: { key: `k${index}` } });
    await log.flush();
    for (let index = 10; index < 20; index++) {
      log.record({ store: 'queue', action: 'enqueue', detail: { key: `k${index}` } });
      await log.flush();
    }
    await log.close();
    const entries = await readAuditLog(path);
    assert.ok(entries.length > 0 && entries.length < 20, 'the oldest file was rotated away');
    assert.deepEqual(entries.at(-1), { at: 1019, store: 'queue', action: 'enqueue', detail: { key: 'k19' } });
    assert.ok(entries.every((entry, index) => index === 0 || entry.at > (entries[index - 1]?.at ?? 0)));
  });
});
