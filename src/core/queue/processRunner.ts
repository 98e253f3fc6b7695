import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { join } from 'node:path';
import { CHECKPOINT_POLL_MS, CheckpointFile } from '../../shared/supervisor/node/checkpointFile';
import { Emitter } from '../emitter';
import type { JobRunner, RunEvent, RunRequest } from './jobRunner';
import { parseJobLine } from '../../shared/supervisor/jobLine';
import { identifyProcess } from '../../shared/supervisor/node/processIdentity';
import { DEFAULT_KILL_GRACE_MS } from '../../shared/supervisor/node/processTree';
import { removeOwnFile } from '../storage/safeRemove';

interface RunningJob {
  readonly request: RunRequest;
  child: ChildProcess | undefined;
  /** The stage `child` runs: its grace applies when it is stopped. */
  childStage: number;
  killed: boolean;
  /** Between a stop's SIGTERM and its SIGKILL. */
  killTimer: NodeJS.Timeout | undefined;
  readonly log: WriteStream | undefined;
  /** LIFELINE_CHECKPOINT_FILE, as supervisors offer it; only with a log folder to put it in. */
  readonly checkpointFile: CheckpointFile | undefined;
  readonly done: Promise<void>;
}

/**
 * Runs jobs as child processes of this process, each stage in its own process group so that a
 * kill reaches the whole tree (`kill(-pgid)`). Jobs die with this process's runner: surviving a
 * host restart is the detached supervisors' job (the next issue). A stop is SIGTERM, then SIGKILL
 * after the grace, both from this process: its jobs do not outlive it anyway.
 */
export class ProcessRunner implements JobRunner {
  private readonly emitter = new Emitter<RunEvent>();
  readonly onDidRun = this.emitter.event;
  private readonly running = new Map<string, RunningJob>();

  /**
   * @param logDir when set, each job's output goes to `<logDir>/<jobId>.log`.
   * @param killGraceMs between a stop's SIGTERM and SIGKILL for a stage without its own. @default DEFAULT_KILL_GRACE_MS
   */
  constructor(private readonly options: { logDir?: string; shell?: string; killGraceMs?: number } = {}) {
    if (options.logDir) mkdirSync(options.logDir, { recursive: true, mode: 0o700 });
  }

  start(request: RunRequest): void {
    let resolveDone!: () => void;
    const done = new Promise<void>((resolve) => (resolveDone = resolve));
    const log = this.options.logDir
      ? createWriteStream(join(this.options.logDir, `${request.jobId}.log`), { flags: 'a', mode: 0o600 })
      : undefined;
    // The output log is best effort: a job's result never depends on it.
    log?.on('error', () => undefined);
    const checkpointFile = this.options.logDir
      ? new CheckpointFile(join(this.options.logDir, `${request.jobId}.checkpoint`), request.checkpoint)
      : undefined;
    checkpointFile?.reset();
    const job: RunningJob = {
      request,
      child: undefined,
      childStage: request.fromStage,
      killed: false,
      killTimer: undefined,
      log,
      checkpointFile,
      done,
    };
    this.running.set(request.jobId, job);
    const checkpointPoll = checkpointFile ? setInterval(() => this.readCheckpointFile(job, false), CHECKPOINT_POLL_MS) : undefined;
    void this.runStages(job)
      .then(async (exit) => {
        clearInterval(checkpointPoll);
        // The output is complete in its file by the time anyone hears that the job exited.
        if (log && !log.closed) await new Promise<void>((resolve) => log.end(() => resolve()));
        this.running.delete(request.jobId);
        this.fire({ type: 'exited', jobId: request.jobId, attempt: request.attempt, ...exit });
      })
      .finally(resolveDone);
  }

  private fire(event: RunEvent): void {
    this.emitter.fire(event);
  }

  private async runStages(job: RunningJob): Promise<{ exitCode: number | null; signal: string | null; error: string | undefined }> {
    const { jobId, attempt, stages } = job.request;
    let exit: { exitCode: number | null; signal: string | null; error: string | undefined } = {
      exitCode: 0,
      signal: null,
      error: undefined,
    };
    let startedFired = false;
    for (let index = job.request.fromStage; index < stages.length; index++) {
      const stage = stages[index];
      if (!stage || job.killed) break;
      const outcome = await this.runStage(job, index, (pid) => {
        if (!startedFired) this.fire({ type: 'started', jobId, attempt, pid });
        startedFired = true;
        this.fire({ type: 'stageStarted', jobId, attempt, stage: index, process: pid === undefined ? undefined : identifyProcess(pid) });
      });
      this.readCheckpointFile(job, true);
      if (outcome.error === undefined) {
        this.fire({ type: 'stageFinished', jobId, attempt, stage: index, exitCode: outcome.exitCode, signal: outcome.signal });
      }
      exit = outcome;
      if (outcome.exitCode !== 0 || outcome.error !== undefined) break;
    }
    if (job.killed && exit.exitCode === 0 && exit.signal === null) exit = { exitCode: null, signal: 'SIGKILL', error: undefined };
    return exit;
  }

  private runStage(
    job: RunningJob,
    index: number,
    onSpawn: (pid: number | undefined) => void,
  ): Promise<{ exitCode: number | null; signal: string | null; error: string | undefined }> {
    const stage = job.request.stages[index];
    if (!stage) return Promise.resolve({ exitCode: null, signal: null, error: 'no such stage' });
    return new Promise((resolve) => {
      const child = spawn(stage.command, {
        cwd: stage.cwd,
        env: {
          ...process.env,
          ...stage.env,
          LIFELINE_JOB_ID: job.request.jobId,
          LIFELINE_ATTEMPT: String(job.request.attempt),
          LIFELINE_STAGE: stage.name,
          ...(job.checkpointFile ? { LIFELINE_CHECKPOINT_FILE: job.checkpointFile.path } : {}),
          ...(job.request.checkpoint !== undefined
            ? { LIFELINE_CHECKPOINT: job.request.checkpoint, LIFELINE_RESUME: job.request.checkpoint }
            : {}),
        },
        shell: this.options.shell ?? true,
        detached: true, // its own process group, so kill(-pid) reaches every descendant
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      job.child = child;
      job.childStage = index;
      let settled = false;
      const settle = (result: { exitCode: number | null; signal: string | null; error: string | undefined }): void => {
        if (settled) return;
        settled = true;
        job.child = undefined;
        resolve(result);
      };
      child.once('error', (error) => settle({ exitCode: null, signal: null, error: `could not start: ${error.message}` }));
      child.once('spawn', () => {
        onSpawn(child.pid);
        if (job.killed) this.stopGroup(job);
      });
      let buffered = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        job.log?.write(chunk);
        buffered += chunk.toString('utf8');
        let newline = buffered.indexOf('\n');
        while (newline >= 0) {
          this.onLine(job, buffered.slice(0, newline).replace(/\r$/, ''));
          buffered = buffered.slice(newline + 1);
          newline = buffered.indexOf('\n');
        }
      });
      child.stderr?.on('data', (chunk: Buffer) => job.log?.write(chunk));
      // 'close', not 'exit': all output has been read by then.
      child.once('close', (code, signal) => {
        // The stage is over: what is left of its group gets no more grace.
        if (job.killTimer) {
          clearTimeout(job.killTimer);
          job.killTimer = undefined;
          this.signalGroup(child, 'SIGKILL');
        }
        settle({ exitCode: code, signal, error: undefined });
      });
    });
  }

  private onLine(job: RunningJob, line: string): void {
    const parsed = parseJobLine(line);
    if (!parsed) return;
    const { jobId, attempt } = job.request;
    if (parsed.kind === 'checkpoint') {
      job.checkpointFile?.noteCheckpoint(parsed.checkpoint);
      this.fire({ type: 'checkpoint', jobId, attempt, checkpoint: parsed.checkpoint });
    } else this.fire({ type: 'progress', jobId, attempt, fraction: parsed.fraction, message: parsed.message });
  }

  private readCheckpointFile(job: RunningJob, force: boolean): void {
    const reading = job.checkpointFile?.read(force);
    if (!reading) return;
    if ('warning' in reading) job.log?.write(`\n[lifeline: ${reading.warning}]\n`);
    else this.fire({ type: 'checkpoint', jobId: job.request.jobId, attempt: job.request.attempt, checkpoint: reading.checkpoint });
  }

  /** SIGTERM to the running stage's group, SIGKILL once its grace has passed; asked again, nothing changes. */
  private stopGroup(job: RunningJob): void {
    const child = job.child;
    if (!child || child.pid === undefined || job.killTimer) return;
    const graceMs = job.request.stages[job.childStage]?.killGraceMs ?? this.options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
    if (graceMs <= 0) return this.signalGroup(child, 'SIGKILL');
    this.signalGroup(child, 'SIGTERM');
    job.killTimer = setTimeout(() => {
      job.killTimer = undefined;
      this.signalGroup(child, 'SIGKILL');
    }, graceMs);
  }

  private signalGroup(child: ChildProcess, signal: 'SIGTERM' | 'SIGKILL'): void {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // The group is already gone.
    }
  }

  /** Deletes the log and checkpoint file of jobs that left the queue (with a log folder; one file of each per job). */
  async forget(jobIds: readonly string[]): Promise<void> {
    const logDir = this.options.logDir;
    if (!logDir) return;
    // Plain names in the log folder only: a job id that is not one is skipped, a link goes as the link.
    const names = jobIds.filter((jobId) => !this.running.has(jobId)).flatMap((jobId) => [`${jobId}.log`, `${jobId}.checkpoint`]);
    await Promise.all(names.map((name) => removeOwnFile(logDir, name).catch(() => undefined)));
  }

  kill(jobId: string): void {
    const job = this.running.get(jobId);
    if (!job) return;
    job.killed = true;
    this.stopGroup(job);
  }

  async dispose(): Promise<void> {
    const jobs = [...this.running.values()];
    for (const job of jobs) this.kill(job.request.jobId);
    await Promise.all(jobs.map((job) => job.done));
    this.emitter.dispose();
  }
}
