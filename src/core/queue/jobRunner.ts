import type { Event } from '../emitter';
import type { ProcessIdentity, Stage } from './jobModel';

/**
 * The only way the scheduler starts, observes and stops jobs. The in-process runner
 * (processRunner.ts) serves tests that need no detached process; detached supervisors (supervisorRunner.ts)
 * implement the same interface. `attempt` is echoed in every event so that a late event of an
 * earlier attempt is told apart from the current one.
 */
export interface RunRequest {
  readonly jobId: string;
  readonly attempt: number;
  readonly stages: readonly Stage[];
  /** Index of the first stage to run; earlier ones completed in an earlier attempt. */
  readonly fromStage: number;
  /** The job's last checkpoint, handed to the job as LIFELINE_CHECKPOINT. */
  readonly checkpoint: string | undefined;
}

/**
 * `at` (on `started`, `stageStarted` and `exited`): when it happened, by the clock of the process
 * that saw it (a supervisor's journal record), which can be long before the host hears of it (a
 * job that ended while no host was alive). Absent, the scheduler uses its own clock.
 */
export type RunEvent =
  | { readonly type: 'started'; readonly jobId: string; readonly attempt: number; readonly pid: number | undefined; readonly at?: number }
  /** `process` identifies the stage's process group durably, so that an orphan can be stopped later. */
  | {
      readonly type: 'stageStarted';
      readonly jobId: string;
      readonly attempt: number;
      readonly stage: number;
      readonly process?: ProcessIdentity;
      readonly at?: number;
    }
  | {
      readonly type: 'progress';
      readonly jobId: string;
      readonly attempt: number;
      readonly fraction: number | undefined;
      readonly message: string | undefined;
    }
  | { readonly type: 'checkpoint'; readonly jobId: string; readonly attempt: number; readonly checkpoint: string }
  | {
      readonly type: 'stageFinished';
      readonly jobId: string;
      readonly attempt: number;
      readonly stage: number;
      readonly exitCode: number | null;
      readonly signal: string | null;
    }
  | {
      readonly type: 'exited';
      readonly jobId: string;
      readonly attempt: number;
      readonly exitCode: number | null;
      readonly signal: string | null;
      /** Set when the job could not be started or run at all (spawn failure). */
      readonly error: string | undefined;
      /**
       * Set when the run failed in a way no retry can fix (the same request would fail the same
       * way): the job fails at once, whatever attempts it has left (retryPolicy.ts). A failed spawn
       * is not one: a missing folder can come back (a remounted drive) and EAGAIN passes.
       */
      readonly unrecoverable?: boolean;
      /**
       * Set when the runner lost the job without an exit record (its supervisor died while a host
       * watched): the job did not fail, so the scheduler makes it interrupted, with what
       * {@link JobRunner.recover} knows, as if the loss had been found at startup.
       */
      readonly interrupted?: boolean;
      readonly at?: number;
      /** When the run's process really started (its `started` record), for the job's duration. */
      readonly startedAt?: number;
    };

/** The last facts of an interrupted run, from its runner's records. */
export interface RecoveredRun {
  /** The last stage that started. */
  readonly stage: number | undefined;
  readonly checkpoint: string | undefined;
  /** Stages that finished with exit code 0. */
  readonly succeededStages: readonly number[];
  /**
   * Set when the runner's records of the run are missing, emptied or cut (#16): why its outcome
   * cannot be read. The job is settled with it in its error, never silently.
   */
  readonly journalProblem?: string;
}

export interface JobRunner {
  readonly onDidRun: Event<RunEvent>;
  /** Starts the job; every later fact about it arrives as events, ending with exactly one `exited`. */
  start(request: RunRequest): void;
  /**
   * Re-attaches to a job that a previous process left running, and reports on it from now on.
   * Detached supervisors can; the in-process runner cannot (its jobs die with it), and then the
   * job is marked interrupted.
   */
  adopt?(job: {
    readonly jobId: string;
    readonly attempt: number;
    readonly pid: number | undefined;
    /** When this run started: records of an earlier run with the same attempt number are older (attempts restart on resume and retry). */
    readonly startedAt?: number;
  }): boolean;
  /**
   * What the runner's own durable records say about a run it could not adopt (its owner died
   * without an exit record). The queue's copy can lag them by the records its host did not commit
   * before it died, so the scheduler folds these into the interrupted job.
   */
  recover?(job: { readonly jobId: string; readonly attempt: number; readonly startedAt?: number }): RecoveredRun | undefined;
  /**
   * Deletes every file the runner keeps for these jobs (journals, logs and checkpoints of every
   * attempt): they left the queue, and their removal is on disk. Missing files are fine; a file
   * that cannot go is logged. Never rejects.
   */
  forget?(jobIds: readonly string[]): Promise<void>;
  /**
   * Deletes the files of jobs that are no longer in the queue (left over when the host went between
   * a removal and its {@link forget}). `isLive` is asked at the moment of deletion, so a job queued
   * meanwhile is kept. Never rejects.
   */
  sweep?(isLive: (jobId: string) => boolean): Promise<void>;
  /**
   * Stops the job's whole process tree: SIGTERM, then SIGKILL once the stage's kill grace has
   * passed (its `killGraceMs`, else the runner's default); an `exited` event follows. No-op for an
   * unknown job. Called only once the reason for the stop is on disk.
   */
  kill(jobId: string): void;
  /**
   * Stops every job it runs and waits for them to exit; a runner whose jobs outlive their host
   * (supervisorRunner.ts) detaches instead, and the next holder adopts them.
   */
  dispose(): Promise<void>;
}
