import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../logger';
import { writeFileAtomic } from '../storage/atomicFile';

const allowedFoldersFileSchema = z.object({
  version: z.literal(1),
  allowed: z.array(z.object({ jobName: z.string(), folder: z.string(), allowedAt: z.number() })),
});

type AllowedFoldersFile = z.infer<typeof allowedFoldersFileSchema>;

/** The file, in the workspace's storage folder. */
export const ALLOWED_FOLDERS_FILE = 'allowed-folders.json';

/**
 * The folders outside the workspace that the user allowed a job of `.vscode/lifeline.json` to
 * run in, as (job name, real folder) pairs, so each is confirmed once. Kept in Lifeline's own
 * storage folder, not in the repository (a checked-in file must not grant itself) and not in
 * workspaceState (lost with a browser profile). Every window reads the same file; each allowance
 * re-reads it before writing, so two windows allowing at once both count (last writer wins on a tie).
 */
export class AllowedFolders {
  private allowed = new Set<string>();

  constructor(
    private readonly directory: string,
    private readonly logger: Logger,
  ) {}

  private get path(): string {
    return join(this.directory, ALLOWED_FOLDERS_FILE);
  }

  /** Reads the file again; a missing or unreadable one allows nothing (and is logged). */
  async load(): Promise<void> {
    this.allowed = new Set((await this.read()).allowed.map((entry) => key(entry.jobName, entry.folder)));
  }

  isAllowed(jobName: string, folder: string): boolean {
    return this.allowed.has(key(jobName, folder));
  }

  /** Resolves once the allowance is on disk. */
  async allow(jobName: string, folders: readonly string[], now = Date.now()): Promise<void> {
    const file = await this.read();
    const known = new Set(file.allowed.map((entry) => key(entry.jobName, entry.folder)));
    const added = folders.filter((folder) => !known.has(key(jobName, folder))).map((folder) => ({ jobName, folder, allowedAt: now }));
    const next: AllowedFoldersFile = { version: 1, allowed: [...file.allowed, ...added] };
    await fs.mkdir(this.directory, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.path, `${JSON.stringify(next, null, 2)}\n`);
    this.allowed = new Set(next.allowed.map((entry) => key(entry.jobName, entry.folder)));
    this.logger.info(`[workspaceJobs] allowed "${jobName}" to run in ${folders.join(', ')}, outside the workspace folder`);
  }

  private async read(): Promise<AllowedFoldersFile> {
    let text: string;
    try {
      text = await fs.readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.logger.warn(`[workspaceJobs] cannot read ${this.path}: ${(error as Error).message}`);
      }
      return { version: 1, allowed: [] };
    }
    try {
      const parsed = allowedFoldersFileSchema.safeParse(JSON.parse(text));
      if (parsed.success) return parsed.data;
      this.logger.warn(
        `[workspaceJobs] ignored ${this.path}: ${parsed.error.issues[0]?.message ?? 'invalid'}; folders outside the workspace are asked for again`,
      );
    } catch (error) {
      this.logger.warn(
        `[workspaceJobs] ignored ${this.path}: ${(error as Error).message}; folders outside the workspace are asked for again`,
      );
    }
    return { version: 1, allowed: [] };
  }
}

function key(jobName: string, folder: string): string {
  return JSON.stringify([jobName, folder]);
}
