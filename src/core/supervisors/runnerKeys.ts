import type { Logger } from '../logger';
import { AesGcmCipher } from '../storage/aesGcmCipher';
import type { RecordCipher } from '../storage/cipher';
import { isKeyError } from '../storage/sealedLog';
import type { JobRecord } from '../../shared/supervisor/supervisorWire';
import { JobJournalReader } from './jobJournalReader';
import type { JournalCheck, JournalExpectation } from './journalCheck';
import { checkJobJournal } from './journalCheck';

/**
 * The keys a SupervisorRunner seals runs with and reads them back with
 * (docs/encryption-job-files.md). The key current when a run starts goes to its supervisor in
 * `run`, over the authenticated socket only; every key seen in this process is kept (in memory,
 * by fingerprint), so that a run started under an earlier key is still read after the key
 * changes, as its supervisor still writes with it.
 */
export class RunnerKeys {
  private readonly ciphers = new Map<string, RecordCipher>();
  private last: { key: Uint8Array; cipher: RecordCipher } | undefined;
  /** Journals locked (no key for them) at their last read; those said in the log (once each, not at every poll). */
  private readonly locked = new Set<string>();
  private readonly lockedLogged = new Set<string>();

  constructor(
    private readonly current: (() => Uint8Array | undefined) | undefined,
    private readonly logger: Logger,
  ) {}

  /** The cipher of the key current now (undefined: runs are written plain). */
  currentCipher(): RecordCipher | undefined {
    const key = this.current?.();
    if (!key) return undefined;
    if (this.last && Buffer.compare(this.last.key, key) === 0) return this.last.cipher;
    const cipher = new AesGcmCipher(key);
    this.last = { key: Uint8Array.from(key), cipher };
    this.ciphers.set(cipher.keyFingerprint, cipher);
    return cipher;
  }

  /** The `run` message's key field for a run starting now. */
  runKey(): { encryptionKey?: string } {
    const cipher = this.currentCipher();
    return cipher && this.last ? { encryptionKey: Buffer.from(this.last.key).toString('base64') } : {};
  }

  /** A reader of the job journal at `path` that opens it with {@link lookup}. */
  reader(path: string): JobJournalReader {
    return new JobJournalReader(path, this.lookup);
  }

  /** A reader's key lookup: the current key, or one seen earlier in this process. */
  readonly lookup = (fingerprint: string): RecordCipher | undefined => {
    const current = this.currentCipher();
    return current?.keyFingerprint === fingerprint ? current : this.ciphers.get(fingerprint);
  };

  /** checkJobJournal, with a journal this host has no key for read as locked: no records, and said so, not as a loss. */
  checkJournal(path: string, expected: JournalExpectation): JournalCheck {
    try {
      return checkJobJournal(path, expected, this.lookup);
    } catch (error) {
      if (!isKeyError(error)) throw error;
      return { records: [], problem: `its journal is locked (${error.message}); it is not damaged` };
    }
  }

  /** The reader's new records; none while its journal is locked (logged once), so a run is never settled on it. */
  readRecords(jobId: string, reader: JobJournalReader): JobRecord[] {
    try {
      const records = reader.read();
      this.locked.delete(reader.path);
      return records;
    } catch (error) {
      if (!isKeyError(error)) throw error;
      this.locked.add(reader.path);
      if (!this.lockedLogged.has(reader.path)) this.logger.warn(`[supervisors] ${jobId} is locked: ${error.message}`);
      this.lockedLogged.add(reader.path);
      return [];
    }
  }

  /** The journal at `path` was locked at its last read. */
  isLocked(path: string): boolean {
    return this.locked.has(path);
  }
}
