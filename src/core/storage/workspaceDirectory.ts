import { createHash } from 'node:crypto';
import { fsp as fs } from './storageFs';
import { join } from 'node:path';
import { z } from 'zod';
import { LifelineError } from '../errors';
import { writeFileAtomic } from './atomicFile';

/**
 * Lifeline keeps each workspace's durable data in a folder of its own under the extension's
 * global storage, keyed by the workspace's own path (folder or .code-workspace file), not by
 * per-workspace storage URI, which in a browser-hosted VS Code changes with the server's port.
 * A manifest names the workspace, so the folder can be told apart by a person or the offline tool.
 */
const manifestSchema = z.object({
  formatVersion: z.literal(1),
  workspaceKey: z.string().min(1),
  createdAt: z.string(),
});
export type WorkspaceManifest = z.infer<typeof manifestSchema>;

export interface WorkspaceDirectory {
  readonly path: string;
  readonly manifest: WorkspaceManifest;
}

export function workspaceDirectoryName(workspaceKey: string): string {
  return createHash('sha256').update(workspaceKey).digest('hex').slice(0, 24);
}

export type WorkspaceDirectoryErrorReason = 'manifestMismatch' | 'manifestUnreadable';

export class WorkspaceDirectoryError extends LifelineError<WorkspaceDirectoryErrorReason> {
  constructor(reason: WorkspaceDirectoryErrorReason, message: string) {
    super('WorkspaceDirectoryError', reason, message);
  }
}

/** Opens (creating on first use) the folder `<globalStorage>/workspaces/<hash of key>`. */
export async function openWorkspaceDirectory(
  globalStorageDir: string,
  workspaceKey: string,
  now = new Date(),
): Promise<WorkspaceDirectory> {
  const path = join(globalStorageDir, 'workspaces', workspaceDirectoryName(workspaceKey));
  await fs.mkdir(path, { recursive: true, mode: 0o700 });
  const manifestPath = join(path, 'manifest.json');
  let text: string | undefined;
  try {
    text = await fs.readFile(manifestPath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (text === undefined) {
    const manifest: WorkspaceManifest = { formatVersion: 1, workspaceKey, createdAt: now.toISOString() };
    await writeFileAtomic(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
    return { path, manifest };
  }
  let parsed: WorkspaceManifest;
  try {
    parsed = manifestSchema.parse(JSON.parse(text));
  } catch (error) {
    throw new WorkspaceDirectoryError(
      'manifestUnreadable',
      `The manifest of Lifeline's storage folder ${path} cannot be read (${(error as Error).message}); its data was left untouched.`,
    );
  }
  if (parsed.workspaceKey !== workspaceKey) {
    throw new WorkspaceDirectoryError(
      'manifestMismatch',
      `Lifeline's storage folder ${path} belongs to ${parsed.workspaceKey}, not ${workspaceKey}.`,
    );
  }
  return { path, manifest: parsed };
}
