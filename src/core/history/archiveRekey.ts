import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import { fsyncDirectory, writeFileAtomic } from '../storage/atomicFile';
import type { KeyRing } from '../storage/reseal';
import { cipherFor, isSnapshotFormat, resealWrapped } from '../storage/reseal';
import { readSnapshotHeader } from '../storage/snapshot';
import { fsp as fs } from '../storage/storageFs';
import type { ArchiveIndex } from './shardIndex';
import { decodeIndex, encodeIndex } from './shardIndex';

/**
 * Re-sealing the history archive when encryption is turned on or off (docs/encryption.md). The
 * index names each shard with the sha256 of its bytes, so a shard rewritten without its index
 * entry would look damaged and go to quarantine. Hence a plan file, written before any shard is
 * replaced: it names each shard's new digest, and `finishArchiveRekey` (run before the history
 * opens) brings the index up to whatever the shards are after a crash.
 */
const PLAN_FILE = 'rekey-plan.json';
const STAGED = '.rekey';

const planSchema = z.object({
  entries: z.array(z.object({ file: z.string().regex(/^[\w.-]+\.shard$/), sha256: z.string(), bytes: z.number().int().min(0) })),
});
type Plan = z.infer<typeof planSchema>;

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The index's bytes opened with whichever key of the ring sealed them. */
async function readIndexWithRing(archiveDir: string, ring: KeyRing): Promise<ArchiveIndex | undefined> {
  const bytes = await fs.readFile(join(archiveDir, 'index.json')).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (!bytes) return undefined;
  const header = isSnapshotFormat(bytes) ? readSnapshotHeader(bytes) : undefined;
  const cipher = header?.encrypted ? cipherFor(ring, header.keyFingerprint) : undefined;
  return (await decodeIndex(bytes, cipher)).index;
}

/**
 * Completes a re-key a crash cut short: every shard the plan names whose bytes are now the planned
 * ones gets its new digest in the index (sealed with `ring.to`); staged files that never replaced
 * a shard go. Does nothing (one failed stat) when no re-key was under way.
 */
export async function finishArchiveRekey(archiveDir: string, ring: KeyRing): Promise<void> {
  const planText = await fs.readFile(join(archiveDir, PLAN_FILE), 'utf8').catch(() => undefined);
  if (planText === undefined) return;
  const plan = planSchema.safeParse(JSON.parse(planText));
  const index = await readIndexWithRing(archiveDir, ring);
  if (plan.success && index) {
    const planned = new Map(plan.data.entries.map((entry) => [entry.file, entry]));
    const shards = [];
    for (const shard of index.shards) {
      const entry = planned.get(shard.file);
      const bytes = entry ? await fs.readFile(join(archiveDir, 'shards', shard.file)).catch(() => undefined) : undefined;
      shards.push(entry && bytes && sha256(bytes) === entry.sha256 ? { ...shard, sha256: entry.sha256, bytes: entry.bytes } : shard);
    }
    await writeFileAtomic(join(archiveDir, 'index.json'), await encodeIndex({ ...index, shards }, ring.to));
  }
  await removeStaged(archiveDir);
  await fs.rm(join(archiveDir, PLAN_FILE), { force: true });
  await fsyncDirectory(archiveDir);
}

async function removeStaged(archiveDir: string): Promise<void> {
  const names = await fs.readdir(join(archiveDir, 'shards')).catch(() => [] as string[]);
  for (const name of names) if (name.endsWith(STAGED)) await fs.rm(join(archiveDir, 'shards', name), { force: true });
}

/**
 * Re-seals every shard and the index of the archive in `archiveDir` with `ring.to`, crash-safely
 * (see above). Call it with the history closed. Returns the number of shards rewritten.
 */
export async function rekeyArchive(archiveDir: string, ring: KeyRing): Promise<number> {
  await finishArchiveRekey(archiveDir, ring);
  const index = await readIndexWithRing(archiveDir, ring);
  if (!index) return 0;
  const shardsDir = join(archiveDir, 'shards');
  const plan: Plan = { entries: [] };
  for (const shard of index.shards) {
    const bytes = await fs.readFile(join(shardsDir, shard.file)).catch(() => undefined);
    // A missing shard is the archive's own open to report; the re-key leaves it as it is.
    if (!bytes) continue;
    const resealed = await resealWrapped(bytes, ring);
    if (resealed === bytes) continue;
    const staged = join(shardsDir, shard.file + STAGED);
    await fs.writeFile(staged, resealed, { mode: 0o600 });
    const handle = await fs.open(staged, 'r+');
    await handle.datasync().finally(() => handle.close());
    plan.entries.push({ file: shard.file, sha256: sha256(resealed), bytes: resealed.byteLength });
  }
  await writeFileAtomic(join(archiveDir, PLAN_FILE), Buffer.from(JSON.stringify(plan)));
  for (const entry of plan.entries) await fs.rename(join(shardsDir, entry.file + STAGED), join(shardsDir, entry.file));
  await fsyncDirectory(shardsDir);
  await finishArchiveRekey(archiveDir, ring);
  return plan.entries.length;
}

/**
 * The archive's files inside a backup (`index.json` and `shards.<file>`, as
 * JobHistory.archiveBackupSource names them), re-sealed with `ring.to`, the index's digests
 * following its shards.
 */
export async function resealArchiveParts(files: ReadonlyMap<string, Uint8Array>, ring: KeyRing): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  const digests = new Map<string, { sha256: string; bytes: number }>();
  for (const [name, bytes] of files) {
    if (name === 'index.json') continue;
    const resealed = await resealWrapped(bytes, ring);
    out.set(name, resealed);
    if (name.startsWith('shards.')) digests.set(name.slice('shards.'.length), { sha256: sha256(resealed), bytes: resealed.byteLength });
  }
  const indexBytes = files.get('index.json');
  if (indexBytes) {
    const header = isSnapshotFormat(indexBytes) ? readSnapshotHeader(indexBytes) : undefined;
    const { index } = await decodeIndex(indexBytes, header?.encrypted ? cipherFor(ring, header.keyFingerprint) : undefined);
    const shards = index.shards.map((shard) => ({ ...shard, ...digests.get(shard.file) }));
    out.set('index.json', await encodeIndex({ ...index, shards }, ring.to));
  }
  return out;
}
