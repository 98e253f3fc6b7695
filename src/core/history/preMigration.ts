import type { RecordCipher } from '../storage/cipher';
import { sealShard } from './shardSeal';
import type { KeyRing } from '../storage/reseal';
import { resealWrapped } from '../storage/reseal';
import { fsp as fs } from '../storage/storageFs';
import { join } from 'node:path';
import { writeFileAtomic } from '../storage/atomicFile';

/**
 * Saves the history database as it was before a schema migration, in `<historyDir>/pre-migration`
 * (created 0700: it holds commands and output like the history itself), and returns its path.
 */
export async function savePreMigrationCopy(
  historyDir: string,
  image: Uint8Array,
  from: number,
  to: number,
  cipher?: RecordCipher,
): Promise<string> {
  const dir = join(historyDir, 'pre-migration');
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  // With encryption on, sealed like an archive shard (sealShard): no plain copy of the history is left beside it.
  const path = join(
    dir,
    `history-v${from}-before-v${to}-${new Date().toISOString().replace(/[:.]/g, '-')}.sqlite${cipher ? '.sealed' : ''}`,
  );
  await writeFileAtomic(path, await sealShard(image, cipher));
  return path;
}

/**
 * Re-seals the saved copies when encryption is turned on or off (runtimeEncryption.ts), each
 * written whole under its new name before the old one goes. Returns how many it rewrote.
 */
export async function rekeyPreMigrationCopies(historyDir: string, ring: KeyRing): Promise<number> {
  const dir = join(historyDir, 'pre-migration');
  let count = 0;
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    if (!/\.sqlite(\.sealed)?$/.test(name)) continue;
    const bytes = await fs.readFile(join(dir, name));
    const resealed = await resealWrapped(bytes, ring);
    if (resealed === bytes) continue;
    const plainName = name.replace(/\.sealed$/, '');
    const target = ring.to ? `${plainName}.sealed` : plainName;
    await writeFileAtomic(join(dir, target), resealed);
    if (target !== name) await fs.rm(join(dir, name), { force: true });
    count++;
  }
  return count;
}
