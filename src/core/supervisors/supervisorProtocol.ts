import { createHash } from 'node:crypto';
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_SOCKET_PATH_BYTES, socketDirectory } from '../session/socketPath';
import { JobError } from '../queue/jobErrors';
import { splitLines } from '../lineSplitter';

/**
 * The host's side of the supervisor channel: where a supervisor listens, what happens to an
 * earlier run's files, and how its messages are read. The messages, records and handshake
 * themselves (the wire format both ends share) are in src/shared/supervisor.
 */

/**
 * Resume and retry count attempts from the start again, so a run can meet the files of an earlier
 * run with the same attempt number. That run is over: its journal is moved aside (or this run would
 * be read as that one), its output stays beside the new log. Returns the
 * error when the files could not be moved.
 */
export function retireEarlierRun(journalPath: string, logPath: string): unknown {
  try {
    // Checked first: on the way to every job's start, and the files are usually not there.
    // Moved aside, never deleted: when the queue came back older than its journals, this one may hold
    // an outcome the queue never read (#16). Its name keeps it out of this run's way and in the job's files.
    if (existsSync(journalPath)) renameSync(journalPath, journalPath.replace(/\.journal$/, '.previous.journal'));
    const mark = `${journalPath}.ackmark`;
    if (existsSync(mark)) renameSync(mark, `${journalPath.replace(/\.journal$/, '.previous.journal')}.ackmark`);
    if (existsSync(logPath)) renameSync(logPath, logPath.replace(/\.log$/, '.previous.log'));
    return undefined;
  } catch (error) {
    return error;
  }
}

/** A supervisor's socket: short, private, named by a hash of the jobs folder plus its own id. */
export function supervisorSocketPath(jobsDir: string, supervisorId: string, directory = socketDirectory()): string {
  const name = `lifeline-sup-${createHash('sha256').update(jobsDir).digest('hex').slice(0, 12)}-${supervisorId.slice(0, 12)}`;
  if (process.platform === 'win32') return `\\\\.\\pipe\\${name}`;
  const path = join(directory, `${name}.sock`);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw new JobError(
      'socketPathTooLong',
      `The supervisor socket path ${path} is ${Buffer.byteLength(path)} bytes; the limit is ${MAX_SOCKET_PATH_BYTES}. Set XDG_RUNTIME_DIR or TMPDIR to a shorter folder.`,
    );
  }
  return path;
}

/** A schema of either zod flavour (the wire's are zod/mini): all a reader needs of it. */
export interface MessageSchema<T> {
  safeParse(value: unknown): { readonly success: true; readonly data: T } | { readonly success: false };
}

/** Splits a byte stream into lines and hands each parsed, validated message on; junk is dropped. */
export function lineReader<T>(schema: MessageSchema<T>, onMessage: (message: T) => void): (chunk: Buffer | string) => void {
  return splitLines((line) => {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      return;
    }
    const parsed = schema.safeParse(raw);
    if (parsed.success) onMessage(parsed.data);
  });
}
