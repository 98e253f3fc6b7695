import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../logger';
import { removeOwnFile } from '../storage/safeRemove';
import { jobIdOfFile } from '../../shared/supervisor/node/jobFilePaths';

/**
 * A sweep leaves a job's files alone while any of them changed this recently: a running supervisor
 * touches its journal with every heartbeat, so files that are this quiet belong to no live run,
 * even of a job the queue lost track of. @default 10 minutes
 */
export const SWEEP_QUIET_MS = 10 * 60_000;

/**
 * Deletes the run files (journals, logs, checkpoints of every attempt) in `jobsDir` of each job
 * `select` picks. `select` is asked just before a job's files go, not up front, so that it sees a
 * job started meanwhile. With `quietForMs`, a job any of whose files changed more recently is kept.
 * Missing files and folders are fine; a file that cannot go is logged. Never rejects.
 */
export async function deleteJobFiles(
  jobsDir: string,
  select: (jobId: string) => boolean,
  logger: Logger,
  options: { quietForMs?: number } = {},
): Promise<number> {
  let names: string[];
  try {
    names = await fs.readdir(jobsDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn(`[jobs] cannot list the job files in ${jobsDir}: ${String(error)}`);
    return 0;
  }
  const byJob = new Map<string, string[]>();
  for (const name of names) {
    const jobId = jobIdOfFile(name);
    if (jobId !== undefined) byJob.set(jobId, [...(byJob.get(jobId) ?? []), name]);
  }
  let deleted = 0;
  for (const [jobId, paths] of byJob) {
    try {
      if (options.quietForMs !== undefined) {
        const changed = await Promise.all(
          paths.map((name) =>
            fs.lstat(join(jobsDir, name)).then(
              (stat) => stat.mtimeMs,
              () => 0,
            ),
          ),
        );
        if (changed.some((mtime) => Date.now() - mtime < (options.quietForMs ?? 0))) continue;
      }
      if (!select(jobId)) continue;
      // A file, or a link as the link itself: never a folder, never what a link points to.
      for (const name of paths) {
        await removeOwnFile(jobsDir, name).then(
          (removed) => removed && deleted++,
          (error: unknown) =>
            logger.warn(`[jobs] could not delete ${join(jobsDir, name)}, a file of the removed job ${jobId}: ${String(error)}`),
        );
      }
    } catch (error) {
      logger.warn(`[jobs] could not delete the files of ${jobId}: ${String(error)}`);
    }
  }
  return deleted;
}
