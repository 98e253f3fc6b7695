import type { ProcessIdentity, Stage } from '../queue/jobModel';
import type { RecoveredRun, RunEvent, RunRequest } from '../queue/jobRunner';
import type { JobRecord, WireProcessIdentity, WireRunRequest, WireStage } from '../../shared/supervisor/supervisorWire';
import { stoppedWithoutHostMessage } from '../../shared/supervisor/supervisorWire';

/**
 * The one place where the queue's model meets the supervisor's wire (src/shared/supervisor): what
 * a run request becomes on the way out, and what a job's journal records become on the way in.
 * The wire has its own shapes, so a change to the queue's model never changes what a supervisor
 * of another build reads; a change to either side shows up here.
 */

/** A stage as a supervisor runs it: only what it uses (outputs and timeouts stay with the host). */
export function toWireStage(stage: Stage): WireStage {
  return {
    name: stage.name,
    command: stage.command,
    cwd: stage.cwd,
    ...(stage.env !== undefined ? { env: stage.env } : {}),
    ...(stage.killGraceMs !== undefined ? { killGraceMs: stage.killGraceMs } : {}),
  };
}

export function toWireRunRequest(request: RunRequest): WireRunRequest {
  return {
    jobId: request.jobId,
    attempt: request.attempt,
    stages: request.stages.map(toWireStage),
    fromStage: request.fromStage,
    ...(request.checkpoint !== undefined ? { checkpoint: request.checkpoint } : {}),
  };
}

export function toProcessIdentity(identity: WireProcessIdentity): ProcessIdentity {
  return { pid: identity.pid, ...(identity.startTime !== undefined ? { startTime: identity.startTime } : {}), host: identity.host };
}

/** The run a record belongs to, as the host follows it. */
export interface FollowedRun {
  readonly jobId: string;
  readonly attempt: number;
  /** Its `started` record's time, once read. */
  readonly startedAt: number | undefined;
}

/**
 * The event a journal record means for the queue; undefined for a record that means nothing to it
 * (a heartbeat). An exit by the stop-without-host setting is no fault of the job: interrupted,
 * resumable. Times are the supervisor's, who saw them, maybe long before this host read them.
 */
export function runEventOf(record: JobRecord, run: FollowedRun): RunEvent | undefined {
  const { jobId, attempt } = run;
  switch (record.t) {
    case 'started':
      return { type: 'started', jobId, attempt, pid: record.supervisor.pid, at: record.at };
    case 'stageStarted':
      return {
        type: 'stageStarted',
        jobId,
        attempt,
        stage: record.stage,
        process: record.process && toProcessIdentity(record.process),
        at: record.at,
      };
    case 'progress':
      return { type: 'progress', jobId, attempt, fraction: record.fraction, message: record.message };
    case 'checkpoint':
      return { type: 'checkpoint', jobId, attempt, checkpoint: record.checkpoint };
    case 'stageFinished':
      return { type: 'stageFinished', jobId, attempt, stage: record.stage, exitCode: record.exitCode, signal: record.signal };
    case 'exited': {
      const times = { at: record.at, ...(run.startedAt !== undefined ? { startedAt: run.startedAt } : {}) };
      if (record.stoppedWithoutHost) {
        return {
          type: 'exited',
          jobId,
          attempt,
          exitCode: record.exitCode,
          signal: record.signal,
          error: stoppedWithoutHostMessage(record.stoppedWithoutHost.afterMs),
          interrupted: true,
          ...times,
        };
      }
      return { type: 'exited', jobId, attempt, exitCode: record.exitCode, signal: record.signal, error: record.error, ...times };
    }
    case 'heartbeat':
      return undefined;
  }
}

/** The last facts of a run, from its journal's records. */
export function summarizeRun(records: readonly JobRecord[]): RecoveredRun {
  let stage: number | undefined;
  let checkpoint: string | undefined;
  const succeededStages: number[] = [];
  for (const record of records) {
    if (record.t === 'stageStarted') stage = record.stage;
    else if (record.t === 'checkpoint') checkpoint = record.checkpoint;
    else if (record.t === 'stageFinished' && record.exitCode === 0) succeededStages.push(record.stage);
  }
  return { stage, checkpoint, succeededStages };
}
