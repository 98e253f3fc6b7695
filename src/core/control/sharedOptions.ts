import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../storage/atomicFile';
import type { RuntimeOptions } from '../runtime/runtimeOptions';

/**
 * The runtime options the extension last ran the workspace with (the user's `lifeline.*` settings),
 * kept in the workspace's storage folder. A `lifeline` command or an MCP server that holds the
 * queue while no window does opens the runtime with them, so it runs jobs at the concurrency,
 * retention and recovery policy the user chose rather than the defaults (the queue's concurrency
 * flag follows whoever holds the queue).
 */
export const SHARED_OPTIONS_FILE = 'options.json';

const optionsSchema = z
  .object({
    concurrency: z.number().int().positive(),
    recoveryPolicy: z.enum(['prompt', 'auto', 'off']),
    outputLimitBytes: z.number().positive(),
    stopWithoutHostAfterMs: z.number().positive(),
    killGraceMs: z.number().nonnegative(),
    historyMaxActiveEntries: z.number().int().positive(),
    historyRetentionDays: z.number().nonnegative(),
    backupIntervalHours: z.number().nonnegative(),
    backupKeep: z.number().int().nonnegative(),
    backupMaxAgeDays: z.number().nonnegative(),
    storageMinFreeMB: z.number().nonnegative(),
    cleanupIntervalHours: z.number().nonnegative(),
    failedJobRetentionDays: z.number().nonnegative(),
    finishedJobRetentionDays: z.number().nonnegative(),
    quarantineRetentionDays: z.number().nonnegative(),
    supervisorScope: z.enum(['shared', 'separate']),
  })
  .partial();

export async function writeSharedOptions(storageDirectory: string, options: RuntimeOptions): Promise<void> {
  await fs.mkdir(storageDirectory, { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(storageDirectory, SHARED_OPTIONS_FILE), `${JSON.stringify({ version: 1, options }, null, 2)}\n`);
}

/** The options on record, field by field: a field missing or not valid is left to the default. */
export async function readSharedOptions(storageDirectory: string): Promise<Partial<RuntimeOptions>> {
  let raw: unknown;
  try {
    raw = (JSON.parse(await fs.readFile(join(storageDirectory, SHARED_OPTIONS_FILE), 'utf8')) as { options?: unknown }).options;
  } catch {
    return {};
  }
  if (typeof raw !== 'object' || raw === null) return {};
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const field = optionsSchema.shape[key as keyof typeof optionsSchema.shape];
    if (field?.safeParse(value).success) kept[key] = value;
  }
  return kept as Partial<RuntimeOptions>;
}
