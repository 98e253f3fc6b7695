import { open, readFile } from 'node:fs/promises';
import type { JobFileKey } from '../storage/sealedLog';
import { openLogBytes, parseSealedLogHeader } from '../storage/sealedLog';
import { jobFilePaths } from '../../shared/supervisor/node/jobFilePaths';

/** Enough of a file's start to hold a sealed log's header. */
const HEADER_PEEK_BYTES = 512;

/**
 * The last `maxBytes` of the output log a supervisor wrote for one attempt of a job, starting on
 * a line boundary (a cut first line is dropped). Rejects when the log does not exist, and with
 * StorageError 'missingKey' / 'wrongKey' / 'decryptFailed' for an encrypted log `cipher` cannot open.
 */
export async function readOutputTail(
  jobsDir: string,
  jobId: string,
  attempt: number,
  maxBytes: number,
  cipher?: JobFileKey,
): Promise<string> {
  const path = jobFilePaths(jobsDir, jobId, attempt).logPath;
  const file = await open(path, 'r');
  let output: Buffer;
  try {
    const { size } = await file.stat();
    const peek = Buffer.alloc(Math.min(size, HEADER_PEEK_BYTES));
    await file.read(peek, 0, peek.length, 0);
    if (parseSealedLogHeader(peek)) {
      // Sealed frames must be read from the start; a log is capped (8 MiB by default), so whole is fine.
      const bytes = Buffer.alloc(size);
      await file.read(bytes, 0, size, 0);
      const whole = openLogBytes(bytes, cipher, `The output log ${path}`).output;
      output = whole.subarray(Math.max(0, whole.length - maxBytes));
      return cutToLine(output, whole.length > output.length);
    }
    const length = Math.min(size, maxBytes);
    output = Buffer.alloc(length);
    await file.read(output, 0, length, size - length);
    return cutToLine(output, size > length);
  } finally {
    await file.close();
  }
}

function cutToLine(bytes: Buffer, cut: boolean): string {
  const text = bytes.toString('utf8');
  return cut ? text.slice(text.indexOf('\n') + 1) : text;
}

/**
 * A job's whole output log as text, decrypted when it is sealed: for Show Output. Rejects like
 * {@link readOutputTail}. A torn last frame (its writer died mid-write) is left out.
 */
export async function readJobOutput(path: string, cipher?: JobFileKey): Promise<string> {
  return openLogBytes(await readFile(path), cipher, `The output log ${path}`).output.toString('utf8');
}

/** Whether the log at `path` is sealed (its header says so): it then opens through Show Output's decrypting view. */
export async function isSealedLog(path: string): Promise<boolean> {
  const file = await open(path, 'r');
  try {
    const peek = Buffer.alloc(HEADER_PEEK_BYTES);
    const { bytesRead } = await file.read(peek, 0, peek.length, 0);
    return parseSealedLogHeader(peek.subarray(0, bytesRead)) !== undefined;
  } finally {
    await file.close();
  }
}
