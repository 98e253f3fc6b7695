import { fsp as fs } from '../storage/storageFs';
import { join } from 'node:path';
import { writeFileAtomic } from '../storage/atomicFile';

/**
 * Saves the history database as it was before a schema migration, in `<historyDir>/pre-migration`
 * (created 0700: it holds commands and output like the history itself), and returns its path.
 */
export async function savePreMigrationCopy(historyDir: string, image: Uint8Array, from: number, to: number): Promise<string> {
  const dir = join(historyDir, 'pre-migration');
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `history-v${from}-before-v${to}-${new Date().toISOString().replace(/[:.]/g, '-')}.sqlite`);
  await writeFileAtomic(path, image);
  return path;
}
