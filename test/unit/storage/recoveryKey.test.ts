import * as assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { generateKey, keyFingerprint } from '../../../src/core/storage/aesGcmCipher';
import { StorageError } from '../../../src/core/storage/errors';
import { RecoveryKeyError, exportRecoveryKey, importRecoveryKey } from '../../../src/core/storage/recoveryKey';
import type { RecoveryKeyProblem } from '../../../src/core/storage/recoveryKey';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const problem = (expected: RecoveryKeyProblem) => (error: unknown) =>
  error instanceof RecoveryKeyError && StorageError.is(error, 'invalidRecoveryKey') && error.problem === expected;

function replaceAt(text: string, index: number, char: string): string {
  return text.slice(0, index) + char + text.slice(index + 1);
}

describe('storage: recovery key', () => {
  it('round-trips any key', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (key) => {
        assert.deepEqual(importRecoveryKey(exportRecoveryKey(key)), key);
      }),
      { numRuns: 300 },
    );
  });

  it('is 8 groups of 8 characters from an alphabet without I, L, O or U', () => {
    const recovery = exportRecoveryKey(generateKey());
    assert.match(recovery, /^([0-9A-HJKMNP-TV-Z]{8}-){7}[0-9A-HJKMNP-TV-Z]{8}$/);
  });

  it('forgives case, spaces, missing dashes and the usual misreadings', () => {
    const key = generateKey();
    const recovery = exportRecoveryKey(key);
    assert.deepEqual(importRecoveryKey(recovery.toLowerCase()), key);
    assert.deepEqual(importRecoveryKey(`  ${recovery.replace(/-/g, ' ')}\n`), key);
    assert.deepEqual(importRecoveryKey(recovery.replace(/-/g, '')), key);
    assert.deepEqual(importRecoveryKey(recovery.replace(/0/g, 'O').replace(/1/g, 'l')), key);
  });

  it('catches every single mistyped character and names its group', () => {
    const recovery = exportRecoveryKey(generateKey()).replace(/-/g, '');
    for (let i = 0; i < recovery.length; i++) {
      for (const char of ALPHABET) {
        if (char === recovery[i]) continue;
        assert.throws(
          () => importRecoveryKey(replaceAt(recovery, i, char)),
          (error: unknown) => problem('groupChecksum')(error) && (error as RecoveryKeyError).group === Math.floor(i / 8) + 1,
          `position ${i} -> ${char}`,
        );
      }
    }
  });

  it('catches swapped neighbours', () => {
    for (let round = 0; round < 5; round++) {
      const recovery = exportRecoveryKey(generateKey()).replace(/-/g, '');
      for (let i = 0; i + 1 < recovery.length; i++) {
        if (recovery[i] === recovery[i + 1]) continue;
        const swapped = recovery.slice(0, i) + recovery[i + 1] + recovery[i] + recovery.slice(i + 2);
        assert.throws(
          () => importRecoveryKey(swapped),
          (error: unknown) => StorageError.is(error, 'invalidRecoveryKey'),
          `swap at ${i}`,
        );
      }
    }
  });

  it('catches errors that pass a group check with the overall checksum', () => {
    const recovery = exportRecoveryKey(generateKey()).replace(/-/g, '');
    // Change a data character, then find the check character that makes its group add up again.
    const changed = replaceAt(recovery, 0, recovery[0] === 'A' ? 'B' : 'A');
    let caught = 0;
    for (const check of ALPHABET) {
      const candidate = replaceAt(changed, 7, check);
      try {
        importRecoveryKey(candidate);
        assert.fail('a changed key was accepted');
      } catch (error) {
        if (problem('checksumMismatch')(error)) caught++;
        else assert.ok(problem('groupChecksum')(error));
      }
    }
    assert.equal(caught, 1);
  });

  it('says when the length is wrong', () => {
    const recovery = exportRecoveryKey(generateKey());
    assert.throws(() => importRecoveryKey(recovery.slice(0, -1)), problem('wrongLength'));
    assert.throws(() => importRecoveryKey(`${recovery}A`), problem('wrongLength'));
    assert.throws(() => importRecoveryKey(''), problem('wrongLength'));
    assert.throws(() => importRecoveryKey(recovery.slice(0, 35)), problem('wrongLength'));
  });

  it('says which character cannot belong', () => {
    const recovery = exportRecoveryKey(generateKey());
    assert.throws(
      () => importRecoveryKey(replaceAt(recovery, 10, 'U')),
      (error: unknown) => problem('badCharacter')(error) && (error as RecoveryKeyError).group === 2,
    );
    assert.throws(() => importRecoveryKey(replaceAt(recovery, 3, '!')), problem('badCharacter'));
  });

  it('tells a valid key for another store apart from a typo', () => {
    const key = generateKey();
    const recovery = exportRecoveryKey(key);
    assert.deepEqual(importRecoveryKey(recovery, keyFingerprint(key)), key);
    assert.throws(
      () => importRecoveryKey(recovery, keyFingerprint(generateKey())),
      (error: unknown) => StorageError.is(error, 'wrongKey'),
    );
  });

  it('refuses to export a key of the wrong size', () => {
    assert.throws(
      () => exportRecoveryKey(new Uint8Array(16)),
      (error: unknown) => StorageError.is(error, 'invalidKey'),
    );
  });
});
