import { open } from 'node:fs/promises';
import { jobFilePaths } from '../../shared/supervisor/node/jobFilePaths';

/**
 * The last `maxBytes` of the output log a supervisor wrote for one attempt of a job, starting on
 * a line boundary (a cut first line is dropped). Rejects when the log does not exist.
 */
export async function readOutputTail(jobsDir: string, jobId: string, attempt: number, maxBytes: number): Promise<string> {
  const file = await open(jobFilePaths(jobsDir, jobId, attempt).logPath, 'r');
  try {
    const { size } = await file.stat();
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    await file.read(buffer, 0, length, size - length);
    const text = buffer.toString('utf8');
    return size > length ? text.slice(text.indexOf('\n') + 1) : text;
  } finally {
    await file.close();
  }
}
