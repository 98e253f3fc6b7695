import { open } from 'node:fs/promises';
import { jobFilePaths } from '../../shared/supervisor/node/jobFilePaths';
import type { JobFileKey } from '../storage/sealedLog';
import { openLogBytes, parseSealedLogHeader } from '../storage/sealedLog';
import type { Job } from '../queue/jobModel';

/** Lines a job writes to talk to Lifeline (progress, checkpoints): the supervisor reads them; people need not. */
const PROTOCOL_PREFIX = '::lifeline ';

/** Removes Lifeline's protocol lines from whole lines of output. */
export function withoutProtocolLines(text: string): string {
  if (!text.includes(PROTOCOL_PREFIX)) return text;
  return text
    .split(/(?<=\n)/)
    .filter((line) => !line.replace(/^\r/, '').startsWith(PROTOCOL_PREFIX))
    .join('');
}

/** The last `count` lines of `text` (a last line without a newline counts). */
export function lastLines(text: string, count: number): string {
  if (count <= 0) return '';
  const lines = text.split(/(?<=\n)/);
  return lines.slice(Math.max(0, lines.length - count)).join('');
}

/**
 * Reads one attempt's output log from a byte offset on: plain logs from the offset, sealed logs
 * whole (frames open in order) and cut at the same offset of their plain text. `offset` past the
 * end means the log was started again (a new attempt's file, or a cap's rewrite): read from 0.
 */
export async function readOutputFrom(
  path: string,
  offset: number,
  key: JobFileKey,
): Promise<{ text: Buffer; end: number; restarted: boolean }> {
  let file;
  try {
    file = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { text: Buffer.alloc(0), end: offset, restarted: false };
    throw error;
  }
  try {
    const { size } = await file.stat();
    const peek = Buffer.alloc(Math.min(size, 512));
    await file.read(peek, 0, peek.length, 0);
    if (parseSealedLogHeader(peek)) {
      const bytes = Buffer.alloc(size);
      await file.read(bytes, 0, size, 0);
      const output = openLogBytes(bytes, key, `The output log ${path}`).output;
      const restarted = output.length < offset;
      const from = restarted ? 0 : offset;
      return { text: output.subarray(from), end: output.length, restarted };
    }
    const restarted = size < offset;
    const from = restarted ? 0 : offset;
    const text = Buffer.alloc(size - from);
    await file.read(text, 0, text.length, from);
    return { text, end: size, restarted };
  } finally {
    await file.close();
  }
}

/** The output log of the job's latest attempt, or undefined before its first. */
export function outputPathOf(jobsDirectory: string, job: Pick<Job, 'id' | 'attempts'>): string | undefined {
  return job.attempts === 0 ? undefined : jobFilePaths(jobsDirectory, job.id, job.attempts).logPath;
}

/**
 * Splits streamed bytes into whole lines, holding a cut line (and a cut UTF-8 character) back
 * until its end comes, so that protocol lines can be told apart and nothing prints half a character.
 */
export class LineAssembler {
  private pending: Buffer = Buffer.alloc(0);

  /** Whole lines so far, without protocol lines. */
  push(bytes: Buffer): string {
    const joined = this.pending.length > 0 ? Buffer.concat([this.pending, bytes]) : bytes;
    const cut = joined.lastIndexOf(0x0a);
    if (cut < 0) {
      this.pending = joined;
      return '';
    }
    this.pending = Buffer.from(joined.subarray(cut + 1));
    return withoutProtocolLines(joined.subarray(0, cut + 1).toString('utf8'));
  }

  /** What is left at the end of the output (a last line with no newline). */
  flush(): string {
    const rest = this.pending.toString('utf8');
    this.pending = Buffer.alloc(0);
    return withoutProtocolLines(rest);
  }
}
