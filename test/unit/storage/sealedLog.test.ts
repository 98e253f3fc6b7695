import * as assert from 'node:assert/strict';
import { AesGcmCipher, generateKey } from '../../../src/core/storage/aesGcmCipher';
import { StorageError } from '../../../src/core/storage/errors';
import { openLogBytes, SealedLogWriter } from '../../../src/core/storage/sealedLog';

/** A sealed log of `chunks`, as CappedLog writes one: header, one frame per chunk, `end` when closed. */
function sealedLog(cipher: AesGcmCipher, chunks: readonly string[], closed = true): { bytes: Buffer; frameEnds: number[] } {
  const writer = new SealedLogWriter(cipher);
  const parts = [writer.header()];
  const frameEnds: number[] = [];
  let length = parts[0]?.length ?? 0;
  for (const chunk of chunks) {
    const frame = writer.output(Buffer.from(chunk));
    parts.push(frame);
    length += frame.length;
    frameEnds.push(length);
  }
  if (closed) parts.push(writer.end());
  return { bytes: Buffer.concat(parts), frameEnds };
}

const reason = (reason: string) => (error: unknown) => StorageError.is(error) && error.reason === reason;

describe('storage: sealed output log format', () => {
  const cipher = new AesGcmCipher(generateKey());

  it('reads back what was sealed, says it was closed, and holds none of it in plain', () => {
    const { bytes } = sealedLog(cipher, ['first MARKER-1\n', 'second MARKER-2\n']);
    assert.equal(bytes.includes('MARKER'), false);
    const opened = openLogBytes(bytes, cipher);
    assert.equal(opened.output.toString(), 'first MARKER-1\nsecond MARKER-2\n');
    assert.deepEqual([opened.encrypted, opened.complete, opened.tornBytes], [true, true, 0]);
  });

  it('a plain log is its own bytes', () => {
    const opened = openLogBytes(Buffer.from('plain output\n'), undefined);
    assert.deepEqual([opened.output.toString(), opened.encrypted], ['plain output\n', false]);
  });

  it('no key is missingKey, another key is wrongKey: locked, not damaged', () => {
    const { bytes } = sealedLog(cipher, ['x']);
    assert.throws(() => openLogBytes(bytes, undefined), reason('missingKey'));
    assert.throws(() => openLogBytes(bytes, new AesGcmCipher(generateKey())), reason('wrongKey'));
    // A lookup by fingerprint that knows the key opens it.
    assert.equal(openLogBytes(bytes, (fingerprint) => (fingerprint === cipher.keyFingerprint ? cipher : undefined)).output.toString(), 'x');
  });

  it('a last frame cut short (a crash mid-write) is dropped; every whole frame reads back', () => {
    const { bytes, frameEnds } = sealedLog(cipher, ['one\n', 'two\n', 'three\n'], false);
    const cut = bytes.subarray(0, (frameEnds[1] as number) + 10); // 10 bytes into the third frame
    const opened = openLogBytes(cut, cipher);
    assert.equal(opened.output.toString(), 'one\ntwo\n');
    assert.equal(opened.complete, false);
    assert.equal(opened.tornBytes, 10);
  });

  it('a flipped byte inside a whole frame is decryptFailed, never skipped', () => {
    const { bytes, frameEnds } = sealedLog(cipher, ['one\n', 'two\n', 'three\n']);
    const flipped = Buffer.from(bytes);
    const inSecond = (frameEnds[0] as number) + 20;
    flipped[inSecond] = (flipped[inSecond] as number) ^ 0x01;
    assert.throws(() => openLogBytes(flipped, cipher), reason('decryptFailed'));
  });

  it('frames swapped, dropped from the middle, or moved in from another log after the end do not read', () => {
    const { bytes, frameEnds } = sealedLog(cipher, ['one\n', 'two\n', 'three\n']);
    const headerLength = new SealedLogWriter(cipher).header().length;
    const [a, b] = frameEnds as [number, number];
    const head = bytes.subarray(0, headerLength);
    const first = bytes.subarray(headerLength, a);
    const second = bytes.subarray(a, b);
    const rest = bytes.subarray(b);
    assert.throws(() => openLogBytes(Buffer.concat([head, second, first, rest]), cipher), reason('decryptFailed'));
    assert.throws(() => openLogBytes(Buffer.concat([head, second, rest]), cipher), reason('decryptFailed'));
    const other = sealedLog(cipher, ['one\n']).bytes;
    assert.throws(() => openLogBytes(Buffer.concat([bytes, other.subarray(headerLength)]), cipher), reason('decryptFailed'));
  });
});
