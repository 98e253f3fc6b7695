import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../storage/atomicFile';
import { ControlError } from './controlErrors';

/**
 * The workspace's trust as VS Code last told the extension, kept in the workspace's storage folder
 * so that processes outside VS Code (`lifeline`, `lifeline mcp`) can honour it: they cannot ask
 * VS Code. The extension writes it each time it starts in the workspace and whenever trust is
 * granted. A folder VS Code has not trusted (or never opened with Lifeline) runs nothing.
 */
export const TRUST_FILE = 'trust.json';

const trustRecordSchema = z.object({ version: z.literal(1), trusted: z.boolean(), at: z.number() });
export type TrustRecord = z.infer<typeof trustRecordSchema>;

export async function writeTrustRecord(storageDirectory: string, trusted: boolean, now = Date.now()): Promise<void> {
  const record: TrustRecord = { version: 1, trusted, at: now };
  await fs.mkdir(storageDirectory, { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(storageDirectory, TRUST_FILE), `${JSON.stringify(record)}\n`);
}

/** The record, or undefined when there is none or it cannot be read (then nothing is trusted). */
export async function readTrustRecord(storageDirectory: string): Promise<TrustRecord | undefined> {
  try {
    const parsed = trustRecordSchema.safeParse(JSON.parse(await fs.readFile(join(storageDirectory, TRUST_FILE), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Throws ControlError 'untrusted' unless VS Code last said the workspace is trusted. */
export async function requireTrustRecord(storageDirectory: string, what: string): Promise<void> {
  const record = await readTrustRecord(storageDirectory);
  if (record?.trusted === true) return;
  const why =
    record === undefined
      ? 'VS Code has not told Lifeline that this workspace is trusted (open it in VS Code with Lifeline installed and trust it)'
      : 'this workspace is not trusted in VS Code (trust it with "Workspaces: Manage Workspace Trust")';
  throw new ControlError('untrusted', `Lifeline does not ${what}: ${why}.`);
}
