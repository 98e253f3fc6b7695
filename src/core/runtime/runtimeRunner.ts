import type { JobRunner } from '../queue/jobRunner';
import { SupervisorRunner } from '../supervisors/supervisorRunner';
import type { RuntimeContext } from './runtimeContext';
import { keptJobIds } from './restoreKeep';
import type { RuntimeEncryption } from './runtimeEncryption';
import type { RuntimeOptions } from './runtimeOptions';

/** The detached supervisors that run the jobs: the options of when it is made (a takeover), the key current at each run's start. */
export function createSupervisorRunner(
  jobsDir: string,
  context: RuntimeContext,
  options: RuntimeOptions,
  encryption: RuntimeEncryption,
): JobRunner {
  return new SupervisorRunner({
    jobsDir,
    supervisorScript: context.supervisorScript,
    logLimitBytes: options.outputLimitBytes,
    stopWithoutHostAfterMs: options.stopWithoutHostAfterMs,
    killGraceMs: options.killGraceMs,
    separateScope: options.supervisorScope === 'separate',
    keptJobs: () => keptJobIds(context.storageDirectory),
    // Read at each run's start: a run started after encryption is turned on is sealed (docs/encryption-job-files.md).
    encryptionKey: () => encryption.key,
    logger: context.logger,
  });
}
