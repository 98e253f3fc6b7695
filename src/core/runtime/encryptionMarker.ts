import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../storage/atomicFile';
import { fsp as fs } from '../storage/storageFs';

/**
 * `<storage>/encryption.json`: whether this workspace's data is meant to be encrypted, and with
 * which key (its fingerprint, never the key). Plain, so that a window without the key can say
 * what it needs. `converting` is set while the files are being re-sealed after encryption was
 * turned on or off: the next holder finishes that (docs/encryption.md).
 *
 * The files' own headers stay the authority on how each one is sealed; this file says what new
 * writes use and lets a window tell "no key here" before it opens anything.
 */
export const ENCRYPTION_MARKER = 'encryption.json';

const markerSchema = z.object({
  version: z.literal(1),
  enabled: z.boolean(),
  /** The key's fingerprint while enabled, and while a turn-off is converting (the key still read). */
  keyFingerprint: z
    .string()
    .regex(/^[0-9a-f]{16}$/)
    .optional(),
  converting: z.boolean(),
  changedAt: z.number(),
});
export type EncryptionMarker = z.infer<typeof markerSchema>;

/** The marker, or undefined when there is none or it cannot be read (then the files' headers decide). */
export async function readEncryptionMarker(storageDirectory: string): Promise<EncryptionMarker | undefined> {
  try {
    const parsed = markerSchema.safeParse(JSON.parse(await fs.readFile(join(storageDirectory, ENCRYPTION_MARKER), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export async function writeEncryptionMarker(storageDirectory: string, marker: EncryptionMarker): Promise<void> {
  await writeFileAtomic(join(storageDirectory, ENCRYPTION_MARKER), `${JSON.stringify(marker, null, 2)}\n`);
}
