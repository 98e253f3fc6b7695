import { isAbsolute, relative } from 'node:path';
import type { Logger } from '../logger';
import { isWithin, realPathOf, removeInside } from '../storage/safeRemove';
import type { Job } from './jobModel';

/**
 * Deletes the declared outputs of a discarded job's unfinished stages, and only inside the
 * workspace folder (the queue's base directory), judged on real paths (docs/security.md, deletion): a
 * stage whose working folder is outside it keeps its outputs, an output declared as `.`, `..`
 * or an absolute path elsewhere is left alone, one reached through a link out of the stage's
 * folder is left alone, and a symbolic link is removed as the link, never its target. Each
 * skip is said in the log.
 */
export async function removeOutputs(
  job: Job,
  outputs: readonly { path: string; cwd: string }[],
  baseDir: string,
  logger: Logger,
): Promise<void> {
  let removed = 0;
  const workspace = await realPathOf(baseDir).catch(() => undefined);
  for (const { path, cwd } of outputs) {
    try {
      const inside = relative(cwd, path);
      if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) {
        logger.warn(
          `[queue] left ${path} in place: a declared output of the discarded job "${job.name}" outside its stage's working folder ${cwd}`,
        );
        continue;
      }
      const realCwd = await realPathOf(cwd);
      if (workspace === undefined || realCwd === undefined || !isWithin(workspace, realCwd)) {
        logger.warn(
          `[queue] left ${path} in place: the discarded job "${job.name}" has a stage working in ${cwd}, outside the workspace folder ${baseDir}; Lifeline deletes nothing there`,
        );
        continue;
      }
      const outcome = await removeInside(realCwd, path);
      if (outcome === 'removed') removed++;
      else if (outcome === 'outside') {
        logger.warn(
          `[queue] left ${path} in place: a declared output of the discarded job "${job.name}" that leads out of its stage's working folder ${cwd} (through a link)`,
        );
      }
    } catch (error) {
      logger.warn(`[queue] could not remove ${path}, a partial output of the discarded job "${job.name}": ${String(error)}`);
    }
  }
  logger.info(`[queue] discarded "${job.name}": removed ${removed} declared output(s) of its unfinished stages`);
}
