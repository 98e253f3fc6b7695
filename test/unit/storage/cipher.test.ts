import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { AesGcmCipher, MemoryKeyProvider, SEAL_OVERHEAD, generateKey, keyFingerprint } from '../../../src/core/storage/aesGcmCipher';
import { gunzip, gzip } from '../../../src/core/storage/compression';
import { StorageError } from '../../../src/core/storage/errors';
import { zipBomb } from './backupFixtures';

const text = (s: string): Uint8Array => new Uint8Array(Buffer.from(s));
const isReason = (reason: StorageError['reason']) => (error: unknown) => StorageError.is(error, reason);

describe('storage: AES-256-GCM record cipher', () => {
  const header = text('record header v1 seq=42');

  it('round-trips data, including empty and large payloads', () => {
    const cipher = new AesGcmCipher(generateKey());
    for (const plain of [new Uint8Array(0), text('hello'), new Uint8Array(randomBytes(1024 * 1024))]) {
      const sealed = cipher.seal(plain, header);
      assert.equal(sealed.byteLength, plain.byteLength + SEAL_OVERHEAD);
      assert.deepEqual(Buffer.from(cipher.open(sealed, header)), Buffer.from(plain));
    }
  });

  it('uses a fresh IV on every seal, so equal plaintexts never give equal ciphertexts', () => {
    const cipher = new AesGcmCipher(generateKey());
    const ivs = new Set<string>();
    const outputs = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const sealed = cipher.seal(text('same'), header);
      ivs.add(Buffer.from(sealed.subarray(0, 12)).toString('hex'));
      outputs.add(Buffer.from(sealed).toString('hex'));
    }
    assert.equal(ivs.size, 500);
    assert.equal(outputs.size, 500);
  });

  it('refuses to open with the wrong key', () => {
    const sealed = new AesGcmCipher(generateKey()).seal(text('secret'), header);
    assert.throws(() => new AesGcmCipher(generateKey()).open(sealed, header), isReason('decryptFailed'));
  });

  it('refuses changed associated data (the record header is bound)', () => {
    const cipher = new AesGcmCipher(generateKey());
    const sealed = cipher.seal(text('secret'), header);
    assert.throws(() => cipher.open(sealed, text('record header v1 seq=43')), isReason('decryptFailed'));
    assert.throws(() => cipher.open(sealed, new Uint8Array(0)), isReason('decryptFailed'));
  });

  it('refuses a flip of any bit of IV, ciphertext or tag', () => {
    const cipher = new AesGcmCipher(generateKey());
    const sealed = cipher.seal(text('a secret command line'), header);
    for (let i = 0; i < sealed.byteLength; i++) {
      const tampered = Uint8Array.from(sealed);
      tampered[i] = (tampered[i] ?? 0) ^ (1 << (i % 8));
      assert.throws(() => cipher.open(tampered, header), isReason('decryptFailed'), `byte ${i}`);
    }
  });

  it('refuses truncated and too-short input with decryptFailed', () => {
    const cipher = new AesGcmCipher(generateKey());
    const sealed = cipher.seal(text('secret'), header);
    for (let length = 0; length < sealed.byteLength; length++) {
      assert.throws(() => cipher.open(sealed.subarray(0, length), header), isReason('decryptFailed'), `length ${length}`);
    }
  });

  it('names the key by a stable fingerprint that does not reveal it', () => {
    const key = generateKey();
    const fingerprint = new AesGcmCipher(key).keyFingerprint;
    assert.match(fingerprint, /^[0-9a-f]{16}$/);
    assert.equal(keyFingerprint(key), fingerprint);
    assert.equal(new AesGcmCipher(Uint8Array.from(key)).keyFingerprint, fingerprint);
    assert.notEqual(new AesGcmCipher(generateKey()).keyFingerprint, fingerprint);
    assert.ok(!Buffer.from(key).toString('hex').includes(fingerprint));
  });

  it('keeps its own copy of the key', () => {
    const key = generateKey();
    const cipher = new AesGcmCipher(key);
    const sealed = cipher.seal(text('x'), header);
    key.fill(0);
    assert.deepEqual(Buffer.from(cipher.open(sealed, header)), Buffer.from('x'));
  });

  it('refuses keys that are not 32 bytes', () => {
    for (const length of [0, 16, 31, 33, 64]) {
      assert.throws(() => new AesGcmCipher(new Uint8Array(length)), isReason('invalidKey'));
    }
  });
});

describe('storage: memory key provider', () => {
  it('stores copies of keys and forgets them on request', async () => {
    const provider = new MemoryKeyProvider();
    assert.equal(await provider.getKey('state'), undefined);
    const key = generateKey();
    await provider.setKey('state', key);
    const stored = await provider.getKey('state');
    assert.deepEqual(stored, key);
    key.fill(1);
    stored?.fill(2);
    assert.notDeepEqual(await provider.getKey('state'), key);
    provider.deleteKey('state');
    assert.equal(await provider.getKey('state'), undefined);
  });

  it('refuses a key of the wrong size', async () => {
    await assert.rejects(new MemoryKeyProvider().setKey('state', new Uint8Array(8)), isReason('invalidKey'));
  });
});

describe('storage: compression', () => {
  it('round-trips', async () => {
    const data = new Uint8Array(Buffer.from('lifeline '.repeat(10_000)));
    const packed = await gzip(data);
    assert.ok(packed.byteLength < data.byteLength / 10);
    assert.deepEqual(Buffer.from(await gunzip(packed, { maxOutputBytes: data.byteLength })), Buffer.from(data));
  });

  it('refuses a zip bomb as soon as it passes the cap', async () => {
    const bomb = zipBomb(64 * 1024 * 1024);
    const before = process.memoryUsage().arrayBuffers;
    await assert.rejects(gunzip(bomb, { maxOutputBytes: 1024 * 1024 }), isReason('decompressTooLarge'));
    assert.ok(process.memoryUsage().arrayBuffers - before < 32 * 1024 * 1024, 'the bomb was not inflated in full');
  });

  it('refuses damaged, truncated and non-gzip data', async () => {
    const packed = await gzip(new Uint8Array(Buffer.from('some data '.repeat(100))));
    await assert.rejects(gunzip(new Uint8Array(Buffer.from('not gzip')), { maxOutputBytes: 1000 }), isReason('decompressFailed'));
    await assert.rejects(gunzip(packed.subarray(0, packed.byteLength - 5), { maxOutputBytes: 10_000 }), isReason('decompressFailed'));
    const flipped = Uint8Array.from(packed);
    flipped[flipped.byteLength - 6] = (flipped[flipped.byteLength - 6] ?? 0) ^ 0xff; // inside the CRC
    await assert.rejects(gunzip(flipped, { maxOutputBytes: 10_000 }), isReason('decompressFailed'));
  });
});
