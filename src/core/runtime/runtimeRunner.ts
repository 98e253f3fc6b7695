import type { JobRunner } from '../queue/jobRunner';
import { SupervisorRunner } from '../supervisors/supervisorRunner';
import type { RuntimeContext } from './runtimeContext';
import { keptJobIds } from './restoreKeep';
import type { RuntimeEncryption } from './runtimeEncryption';
import type { RuntimeOptions } from './runtimeOptions';

/** The detached supervisors that run the workspace's jobs, with the options and the key of when it is made (a takeover). */
export function createSupervisorRunner(
  jobsDir: string,
  context: RuntimeContext,
  options: RuntimeOptions,
  _encryption: RuntimeEncryption,
): JobRunner {
  return new SupervisorRunner({
    jobsDir,
    supervisorScript: context.supervisorScript,
    logLimitBytes: options.outputLimitBytes,
    stopWithoutHostAfterMs: options.stopWithoutHostAfterMs,
    killGraceMs: options.killGraceMs,
    separateScope: options.supervisorScope === 'separate',
    keptJobs: () => keptJobIds(context.storageDirectory),
    logger: context.logger,
  });
}
