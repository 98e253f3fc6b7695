import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../logger';
import { removeOwnFile } from '../storage/safeRemove';
import { jobIdOfFile } from '../../shared/supervisor/node/jobFilePaths';

/** What one part of a cleanup removed: how many things (jobs, files), and the bytes of the files removed. */
export interface CleanupCount {
  /** Jobs (or backups, quarantined files) whose files were removed. */
  readonly items: number;
  readonly files: number;
  readonly bytes: number;
}

export const NOTHING: CleanupCount = Object.freeze({ items: 0, files: 0, bytes: 0 });

export function addCounts(a: CleanupCount, b: CleanupCount): CleanupCount {
  return { items: a.items + b.items, files: a.files + b.files, bytes: a.bytes + b.bytes };
}

/** The run files in the jobs folder, by job id (jobFilePaths.ts names them). */
export async function jobFilesByJob(jobsDir: string, logger: Logger): Promise<Map<string, string[]>> {
  const byJob = new Map<string, string[]>();
  let names: string[];
  try {
    names = await fs.readdir(jobsDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn(`[cleanup] cannot list ${jobsDir}: ${String(error)}`);
    return byJob;
  }
  for (const name of names) {
    const jobId = jobIdOfFile(name);
    if (jobId !== undefined) byJob.set(jobId, [...(byJob.get(jobId) ?? []), name]);
  }
  return byJob;
}

/**
 * Removes the files of each job `select` picks, unless any of its files changed within
 * `quietForMs` of `now` (a live run touches its journal with every heartbeat). `select` is asked
 * after the files were looked at and just before they go, so that a job started meanwhile is
 * seen. Counts the bytes of the files this call removed (a file someone else removed first is not
 * counted). Never rejects; a file that cannot go is logged and left.
 * @returns what was removed, and the selected jobs left alone because their files changed recently
 */
export async function removeJobFiles(
  jobsDir: string,
  select: (jobId: string) => boolean,
  options: { quietForMs: number; now: () => number; logger: Logger; only?: ReadonlySet<string> },
): Promise<{ removed: CleanupCount; busy: Set<string> }> {
  const byJob = await jobFilesByJob(jobsDir, options.logger);
  let removed = NOTHING;
  const busy = new Set<string>();
  for (const [jobId, names] of byJob) {
    if (options.only && !options.only.has(jobId)) continue;
    if (!select(jobId)) continue;
    const stats = await Promise.all(names.map((name) => fs.lstat(join(jobsDir, name)).catch(() => undefined)));
    const now = options.now();
    if (stats.some((stat) => stat && now - stat.mtimeMs < options.quietForMs)) {
      busy.add(jobId);
      continue;
    }
    // Asked again right before the files go: the queue may have started the job while we looked.
    if (!select(jobId)) continue;
    let files = 0;
    let bytes = 0;
    for (const [index, name] of names.entries()) {
      try {
        if (await removeOwnFile(jobsDir, name)) {
          files++;
          bytes += stats[index]?.size ?? 0;
        }
      } catch (error) {
        options.logger.warn(`[cleanup] could not remove ${join(jobsDir, name)}: ${String(error)}`);
      }
    }
    if (files > 0) removed = addCounts(removed, { items: 1, files, bytes });
  }
  return { removed, busy };
}

/**
 * Removes the files in each quarantine folder older than `maxAgeMs`, always keeping the newest
 * file of each folder (the last thing quarantined is the one a person may still need).
 */
export async function removeOldQuarantine(
  folders: readonly string[],
  maxAgeMs: number,
  now: number,
  logger: Logger,
): Promise<CleanupCount> {
  let removed = NOTHING;
  for (const folder of folders) {
    let names: string[];
    try {
      names = await fs.readdir(folder);
    } catch {
      continue;
    }
    const files: { name: string; size: number; mtimeMs: number }[] = [];
    for (const name of names) {
      const stat = await fs.lstat(join(folder, name)).catch(() => undefined);
      if (stat?.isFile()) files.push({ name, size: stat.size, mtimeMs: stat.mtimeMs });
    }
    files.sort((a, b) => b.mtimeMs - a.mtimeMs);
    for (const file of files.slice(1)) {
      if (now - file.mtimeMs < maxAgeMs) continue;
      try {
        if (await removeOwnFile(folder, file.name)) removed = addCounts(removed, { items: 1, files: 1, bytes: file.size });
      } catch (error) {
        logger.warn(`[cleanup] could not remove ${join(folder, file.name)}: ${String(error)}`);
      }
    }
  }
  return removed;
}

/** Every quarantine folder of a workspace's storage folder (each store keeps its own). */
export function quarantineFolders(storageDirectory: string): string[] {
  return [
    join(storageDirectory, 'queue', 'quarantine'),
    join(storageDirectory, 'history', 'quarantine'),
    join(storageDirectory, 'history', 'archive', 'quarantine'),
    join(storageDirectory, 'state', 'quarantine'),
  ];
}

/** `12.3 MB`, as the notification and the log say it. */
export function formatMegabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(bytes > 0 && bytes < 104_858 ? 2 : 1)} MB`;
}
