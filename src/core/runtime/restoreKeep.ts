import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../storage/atomicFile';
import { fsp as fs } from '../storage/storageFs';

/**
 * Jobs a restore took out of the queue keep their files (journals, output logs, checkpoints) for
 * as long as the safety backup that still holds them exists: restoring that backup (undoing the
 * restore) brings the jobs back with their output. Without this, the sweep when the queue opens
 * again and the periodic cleanup would delete the files of jobs the queue no longer names.
 *
 * `<storage>/jobs/kept-by-restore.json`: `[{ backup, jobIds }]`; an entry lapses when its backup
 * is rotated or deleted.
 */
const KEEP_FILE = 'kept-by-restore.json';

const keepSchema = z.array(z.object({ backup: z.string().regex(/^[\w.-]+$/), jobIds: z.array(z.string()) }));
type KeepEntries = z.infer<typeof keepSchema>;

async function readEntries(storageDirectory: string): Promise<KeepEntries> {
  try {
    const parsed = keepSchema.safeParse(JSON.parse(await fs.readFile(join(storageDirectory, 'jobs', KEEP_FILE), 'utf8')));
    return parsed.success ? parsed.data : [];
  } catch {
    return [];
  }
}

async function liveEntries(storageDirectory: string): Promise<KeepEntries> {
  const entries = await readEntries(storageDirectory);
  const live: KeepEntries = [];
  for (const entry of entries) {
    const exists = await fs.stat(join(storageDirectory, 'backups', entry.backup)).then(
      () => true,
      () => false,
    );
    if (exists) live.push(entry);
  }
  return live;
}

/** Records that the jobs `jobIds`, which `safetyBackup` holds, left the queue in a restore. */
export async function recordKeptJobs(storageDirectory: string, safetyBackup: string, jobIds: readonly string[]): Promise<void> {
  const entries = await liveEntries(storageDirectory);
  if (jobIds.length > 0) entries.push({ backup: safetyBackup, jobIds: [...jobIds] });
  await fs.mkdir(join(storageDirectory, 'jobs'), { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(storageDirectory, 'jobs', KEEP_FILE), JSON.stringify(entries));
}

/** The jobs whose files stay although the queue does not name them (their safety backup still exists). */
export async function keptJobIds(storageDirectory: string): Promise<ReadonlySet<string>> {
  return new Set((await liveEntries(storageDirectory)).flatMap((entry) => entry.jobIds));
}
