import { join } from 'node:path';

/**
 * How a run's files are named in the jobs folder: the host picks the names and sends them in `run`,
 * the supervisor writes them, and a later host finds them again by name.
 */

/** `<dir>/<safe jobId>.<attempt>.journal` and `.log`: one pair per attempt, found again by name. */
export function jobFilePaths(jobsDir: string, jobId: string, attempt: number): { journalPath: string; logPath: string } {
  const base = join(jobsDir, `${encodeURIComponent(jobId)}.${attempt}`);
  return { journalPath: `${base}.journal`, logPath: `${base}.log` };
}

/** Every file of a run: its journal, log, the log and journal of an earlier run with its number, and its checkpoint file. */
const JOB_FILE =
  /^(.+)\.(\d+)\.(?:journal|journal\.ackmark|log|previous\.log|previous\.journal|previous\.journal\.ackmark|checkpoint|checkpoint\.tmp)$/;

/** The job whose run file `name` (a name in the jobs folder) is; undefined for any other file. */
export function jobIdOfFile(name: string): string | undefined {
  const match = JOB_FILE.exec(name);
  if (!match?.[1]) return undefined;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return undefined;
  }
}
