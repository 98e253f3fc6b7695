import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { AesGcmCipher } from '../core/storage/aesGcmCipher';
import type { RecordCipher } from '../core/storage/cipher';
import { listJournals, snapshotPath } from '../core/storage/durableLayout';
import type { StoreLayout } from '../core/storage/durableLayout';
import { scanJournal } from '../core/storage/journalFormat';
import { importRecoveryKey, RecoveryKeyError } from '../core/storage/recoveryKey';
import { readSnapshotHeader } from '../core/storage/snapshot';
import { CliError } from './cliErrors';
import { HISTORY_FOLDER, QUEUE_FOLDER, STATE_FOLDER } from './storeSet';

/** The stores of a storage folder, as file layouts. */
export function storeLayouts(directory: string): StoreLayout[] {
  return [
    { directory: join(directory, QUEUE_FOLDER), name: 'queue' },
    { directory: join(directory, HISTORY_FOLDER), name: 'history' },
    { directory: join(directory, STATE_FOLDER), name: 'state' },
  ];
}

/**
 * The cipher of `--recovery-key` (or LIFELINE_RECOVERY_KEY), undefined without one. A key that
 * does not read back (a mistyped group) is a usage error that says which group is wrong.
 */
export function cipherFromRecoveryKey(text: string | undefined): RecordCipher | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  try {
    return new AesGcmCipher(importRecoveryKey(text));
  } catch (error) {
    if (error instanceof RecoveryKeyError) throw new CliError('usage', `The recovery key cannot be read: ${error.message}`);
    throw error;
  }
}

/** The key fingerprint each encrypted file of a store was written with (its snapshot's and journals' headers). */
async function fingerprints(layout: StoreLayout): Promise<Set<string>> {
  const found = new Set<string>();
  const snapshot = await fs.readFile(snapshotPath(layout)).catch(() => undefined);
  if (snapshot) {
    try {
      const header = readSnapshotHeader(snapshot);
      if (header.encrypted) found.add(header.keyFingerprint);
    } catch {
      // A damaged header is the recovery's to judge, not a key question.
    }
  }
  const journals = await listJournals(layout).catch(() => []);
  for (const journal of journals) {
    const bytes = await fs.readFile(journal.path).catch(() => undefined);
    const scan = bytes ? scanJournal(bytes) : undefined;
    if (scan && typeof scan.header === 'object' && scan.header.encrypted) found.add(scan.header.keyFingerprint);
  }
  return found;
}

/**
 * Refuses, before anything is read in earnest or written, a folder whose stores are encrypted
 * when no key or another key was given: such a store is never opened empty or quarantined.
 */
export async function checkKeys(directory: string, cipher: RecordCipher | undefined): Promise<void> {
  for (const layout of storeLayouts(directory)) {
    for (const fingerprint of await fingerprints(layout)) {
      if (!cipher) {
        throw new CliError(
          'locked',
          `The ${layout.name} store in ${layout.directory} is encrypted (key ${fingerprint}). Give its recovery key with --recovery-key or LIFELINE_RECOVERY_KEY; nothing was touched.`,
        );
      }
      if (cipher.keyFingerprint !== fingerprint) {
        throw new CliError(
          'locked',
          `The ${layout.name} store in ${layout.directory} is encrypted with another key (${fingerprint}, the recovery key given is ${cipher.keyFingerprint}); nothing was touched.`,
        );
      }
    }
  }
}
