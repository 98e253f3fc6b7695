import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../../src/core/clock';
import { Emitter } from '../../../src/core/emitter';
import { JobQueue } from '../../../src/core/queue/jobQueue';
import type { JobRunner, RunEvent, RunRequest } from '../../../src/core/queue/jobRunner';
import type { QueueLog } from '../../../src/core/queue/queueLog';
import { MemoryQueueLog } from '../../../src/core/queue/queueLog';

/** A runner that runs nothing: the test says when a job starts, reports and exits. */
export class FakeRunner implements JobRunner {
  private readonly emitter = new Emitter<RunEvent>();
  readonly onDidRun = this.emitter.event;
  readonly started: RunRequest[] = [];
  readonly killed: string[] = [];
  readonly running = new Map<string, RunRequest>();
  /** When set, the runner adopts jobs a previous process left running (as supervisors will). */
  adoptable = false;
  readonly adopted: string[] = [];

  adopt(job: { jobId: string; attempt: number }): boolean {
    if (!this.adoptable) return false;
    this.adopted.push(job.jobId);
    this.running.set(job.jobId, { jobId: job.jobId, attempt: job.attempt, stages: [], fromStage: 0, checkpoint: undefined });
    return true;
  }

  start(request: RunRequest): void {
    this.started.push(request);
    this.running.set(request.jobId, request);
    this.emit({ type: 'started', jobId: request.jobId, attempt: request.attempt, pid: 1000 + this.started.length });
    this.emit({ type: 'stageStarted', jobId: request.jobId, attempt: request.attempt, stage: request.fromStage });
  }

  emit(event: RunEvent): void {
    this.emitter.fire(event);
  }

  exit(jobId: string, exitCode: number | null, signal: string | null = null): void {
    const request = this.running.get(jobId);
    if (!request) throw new Error(`job ${jobId} is not running`);
    this.running.delete(jobId);
    this.emit({ type: 'exited', jobId, attempt: request.attempt, exitCode, signal, error: undefined });
  }

  /** Finishes the current stage with `exitCode` and starts the next, or exits after the last one. */
  finishStage(jobId: string, stage: number, exitCode = 0): void {
    const request = this.running.get(jobId);
    if (!request) throw new Error(`job ${jobId} is not running`);
    this.emit({ type: 'stageFinished', jobId, attempt: request.attempt, stage, exitCode, signal: null });
    if (exitCode === 0 && stage + 1 < request.stages.length) {
      this.emit({ type: 'stageStarted', jobId, attempt: request.attempt, stage: stage + 1 });
    } else this.exit(jobId, exitCode);
  }

  kill(jobId: string): void {
    this.killed.push(jobId);
    if (this.running.has(jobId)) queueMicrotask(() => this.running.has(jobId) && this.exit(jobId, null, 'SIGKILL'));
  }

  startedIds(): string[] {
    return this.started.map((request) => request.jobId);
  }

  async dispose(): Promise<void> {
    this.emitter.dispose();
  }
}

/** Lets commits, and the runner starts that follow them, run to the end. */
export async function settle(queue: JobQueue): Promise<void> {
  for (let i = 0; i < 6; i++) {
    await queue.whenIdle();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

export interface Harness {
  readonly dir: string;
  readonly clock: ManualClock;
  log: QueueLog;
  runner: FakeRunner;
  queue: JobQueue;
  /** Closes the queue and opens it again on the same log: a restart. */
  reopen(options?: { jump?: number; adopt?: boolean }): Promise<JobQueue>;
  dispose(): Promise<void>;
}

export async function openHarness(
  options: { log?: (dir: string) => QueueLog; autoRun?: boolean; concurrency?: number; random?: () => number } = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-jobs-'));
  const clock = new ManualClock();
  const makeLog = options.log ?? (() => new MemoryQueueLog());
  const memory = makeLog(dir);
  const open = async (log: QueueLog, runner: FakeRunner): Promise<JobQueue> =>
    JobQueue.open({ log, runner, clock, baseDir: dir, random: options.random ?? (() => 0.5) });
  const runner = new FakeRunner();
  const queue = await open(memory, runner);
  if (options.concurrency !== undefined) await queue.command({ type: 'setConcurrency', limit: options.concurrency });
  if (options.autoRun === false) await queue.command({ type: 'setAutoRun', autoRun: false });
  const harness: Harness = {
    dir,
    clock,
    log: memory,
    runner,
    queue,
    async reopen(reopenOptions = {}) {
      await harness.queue.dispose();
      if (reopenOptions.jump) clock.jump(reopenOptions.jump);
      // A memory log survives its own close; a file log is opened anew on the same directory.
      harness.log = options.log ? makeLog(dir) : harness.log;
      harness.runner = new FakeRunner();
      harness.runner.adoptable = reopenOptions.adopt ?? false;
      harness.queue = await open(harness.log, harness.runner);
      return harness.queue;
    },
    async dispose() {
      await harness.queue.dispose();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  // The flag rules the next open: reopen so that the test starts with a queue that is not scheduling.
  if (options.autoRun === false) await harness.reopen();
  return harness;
}
