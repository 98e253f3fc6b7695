import { fsp as fs } from './storageFs';
import { crc32 } from 'node:zlib';
import { journalPath, snapshotPath } from './durableLayout';
import { StorageError } from './errors';
import { checkAcknowledgedPrefix, snapshotIsOurs } from './recoveryChecks';
import type { RecoveryRun } from './recoveryRun';
import { isKeyOrVersionProblem } from './recoveryRun';
import { readFileIfExists } from './storageIo';
import { previousSnapshotPath, snapshotMatches } from './storeManifest';

type SnapshotProblem = { cause: 'snapshotDamaged' | 'snapshotMissing'; detail: string };

/** Which copy the state starts from, when it is not the store's own snapshot. */
export interface SnapshotChoice {
  /** A backup was loaded ('backup'), or none could be ('none'); undefined: the store's own files. */
  readonly fallbackUsed: 'backup' | 'none' | undefined;
  /** Why the newest backup was needed: the report names it as the cause when it falls short. */
  readonly fallbackFor: SnapshotProblem | undefined;
}

/**
 * Chooses where the state starts: the snapshot the manifest names, else the generation kept before
 * it (with its journals), else the newest good backup, else the empty state. A damaged snapshot is
 * quarantined; an intact one this key or this code cannot read throws and stays where it is.
 */
export async function chooseSnapshot<S, R>(run: RecoveryRun<S, R>, journals: readonly { generation: number }[]): Promise<SnapshotChoice> {
  const { context, manifest } = run;
  let problem: SnapshotProblem | undefined;
  const current = await readFileIfExists(snapshotPath(context));
  if (current) {
    try {
      // Before decoding: a codec may take the bytes over (sql.js opens the image in place).
      const currentCrc = crc32(current);
      const opened = await run.decodeFile(current);
      if (!snapshotIsOurs(manifest, opened.header, currentCrc, journals)) {
        context.codec.dispose?.(opened.state);
        throw new StorageError(
          'corruptSnapshot',
          'it is not the file its manifest names (its checksum differs: damaged, or another store’s)',
        );
      }
      run.startFrom(
        opened.state,
        { generation: opened.header.generation, sequence: opened.header.sequence, crc: currentCrc },
        current.length,
      );
    } catch (error) {
      if (isKeyOrVersionProblem(error)) throw error;
      const detail = `the snapshot of ${context.name} is damaged (${(error as Error).message})`;
      await run.quarantine(snapshotPath(context), 'corruptSnapshot', detail);
      problem = { cause: 'snapshotDamaged', detail };
    }
  } else if (manifest?.snapshot !== undefined || (journals[0]?.generation ?? 1) > 1) {
    // Generations above 1 exist only after a compaction wrote a snapshot: it has gone missing.
    problem = { cause: 'snapshotMissing', detail: `the snapshot of ${context.name} is missing` };
  }
  if (!problem) return { fallbackUsed: undefined, fallbackFor: undefined };
  const opened = await openPrevious(run);
  if (opened === 'file' && !current && manifest?.snapshot?.generation === run.startGeneration) {
    // A compaction moved the snapshot aside and stopped before writing the next: nothing is wrong.
    await fs.rename(previousSnapshotPath(context), snapshotPath(context));
    run.previous = undefined;
    return { fallbackUsed: undefined, fallbackFor: undefined };
  }
  if (opened) {
    run.rewrite = true;
    run.corruptions += problem.cause === 'snapshotMissing' ? 1 : 0;
    run.repairs.push({
      cause: problem.cause,
      file: snapshotPath(context),
      detail: `${problem.detail}; it was rebuilt from the previous generation and the journals after it`,
    });
    return { fallbackUsed: undefined, fallbackFor: undefined };
  }
  if (problem.cause === 'snapshotMissing') run.corruptions++;
  context.logger.error(`${run.tag} ${problem.detail}`);
  return { fallbackUsed: await useFallback(run), fallbackFor: problem };
}

/** Opens the generation kept before the newest snapshot: its file, or the empty state it began from. */
async function openPrevious<S, R>(run: RecoveryRun<S, R>): Promise<'file' | 'empty' | undefined> {
  const { context, manifest } = run;
  // Usable only when every journal it needs is there and its acknowledged bytes verify;
  // otherwise the newest backup is the better copy.
  if (manifest?.previous) {
    const upTo = manifest.snapshot?.generation ?? Number.MAX_SAFE_INTEGER;
    for (const end of manifest.journals) {
      if (end.generation < manifest.previous.generation || end.generation >= upTo) continue;
      const bytes = await readFileIfExists(journalPath(context, end.generation));
      if (!bytes || checkAcknowledgedPrefix(bytes, end, '')) return undefined;
    }
  }
  const path = previousSnapshotPath(context);
  const bytes = await readFileIfExists(path);
  if (bytes) {
    try {
      const previousCrc = crc32(bytes);
      const opened = await run.decodeFile(bytes);
      if (!snapshotMatches(manifest?.previous, opened.header.generation, previousCrc)) {
        context.codec.dispose?.(opened.state);
        throw new StorageError('corruptSnapshot', 'it is not the file its manifest names (its checksum differs)');
      }
      // Only the generation the manifest names (any, without one): a stale copy would be
      // replayed onto journals that do not follow it.
      const generation = opened.header.generation;
      if (!manifest || manifest.previous?.generation === generation || manifest.snapshot?.generation === generation) {
        run.startFrom(opened.state, { generation, sequence: opened.header.sequence, crc: previousCrc }, bytes.length);
        return 'file';
      }
      context.codec.dispose?.(opened.state);
    } catch (error) {
      if (isKeyOrVersionProblem(error)) throw error;
      await run.quarantine(
        path,
        'corruptSnapshot',
        `the previous snapshot of ${context.name} is damaged too (${(error as Error).message})`,
      );
    }
  } else if (manifest?.previous && !manifest.previous.hasFile) {
    run.startGeneration = manifest.previous.generation;
    run.sequence = manifest.previous.sequence;
    return 'empty';
  }
  return undefined;
}

/** Starts from the newest good backup, or from nothing; every journal is replayed onto it. */
async function useFallback<S, R>(run: RecoveryRun<S, R>): Promise<'backup' | 'none'> {
  const { context } = run;
  run.state = context.codec.empty();
  run.sequence = 0;
  run.startGeneration = 0; // replay every journal; records the backup already holds are skipped by sequence
  run.previous = undefined;
  run.rewrite = true;
  const bytes = await context.loadFallback?.().catch((error: unknown) => {
    context.logger.error(`${run.tag} the backup could not be loaded: ${(error as Error).message}`);
    return undefined;
  });
  if (!bytes) return 'none';
  try {
    const opened = await run.decodeFile(Buffer.from(bytes));
    run.state = opened.state;
    run.sequence = opened.header.sequence;
    return 'backup';
  } catch (error) {
    if (isKeyOrVersionProblem(error)) throw error;
    context.logger.error(`${run.tag} the backup is damaged too: ${(error as Error).message}`);
    run.state = context.codec.empty();
    return 'none';
  }
}
