import { randomUUID } from 'node:crypto';
import type { JobDefinition } from '../../shared/workspaceConfig';
import type { Clock } from '../clock';
import { systemClock } from '../clock';
import type { AuditOrigin, Job, QueueCommand } from '../queue/jobModel';
import { compareJobs } from '../queue/jobModel';
import type { QueueSession } from '../session/queueSession';
import type { JobFileKey } from '../storage/sealedLog';
import type { AddRequest } from './addRequest';
import { parseAddRequest } from './addRequest';
import { ControlError } from './controlErrors';
import { LineAssembler, lastLines, outputPathOf, readOutputFrom, withoutProtocolLines } from './jobOutput';
import type { JobView, StatusView } from './jobView';
import { JOB_VIEW_SCHEMA_VERSION, jobView } from './jobView';
import type { DefinitionSource, DefinitionsRead } from './workspaceDefinitions';

/** What a control needs of the workspace runtime: its queue session and its history's estimates. */
export interface ControlledRuntime {
  readonly queue: QueueSession;
  estimateDuration?(definition: JobDefinition): Promise<number | undefined>;
}

export interface JobControlOptions {
  readonly runtime: ControlledRuntime;
  readonly workspaceKey: string;
  readonly definitions: DefinitionSource;
  /** Throws ControlError 'untrusted' when the workspace may not run anything (checked before each run). */
  readonly requireTrust: (what: string) => Promise<void>;
  /** Who the commands come from, for the audit log. */
  readonly origin?: AuditOrigin;
  readonly clock?: Clock;
  /** The supervisors' job files (output logs) and the key that opens sealed ones. */
  readonly output: { readonly jobsDirectory: string; readonly key: () => JobFileKey };
}

/** How often `follow` looks at the log besides the queue's events (output itself sends none). */
const FOLLOW_POLL_MS = 100;

export interface WaitResult {
  readonly jobs: readonly JobView[];
  /** The timeout passed first: some of `jobs` are not finished. */
  readonly timedOut: boolean;
}

/** A command's name in the queue: its first line, cut to the 200 characters a name may have. */
function nameOf(command: string): string {
  const [first = command] = command.trim().split('\n');
  const more = first.length < command.trim().length;
  return first.length > 199 || more ? `${first.slice(0, 199)}…` : first;
}

/** A job a waiter is done with: finished, or interrupted (it waits for a person's resume). */
export function isSettled(job: Job | undefined): boolean {
  return job === undefined || ['succeeded', 'failed', 'cancelled', 'interrupted'].includes(job.state);
}

/**
 * The one door for the terminal, agents and chat: a small set of job operations over a workspace
 * runtime's queue session, with the same validation, trust check and audit origin for each. It holds
 * nothing of its own: every answer is the queue's, whether this process holds it or is its client.
 */
export class JobControl {
  private readonly clock: Clock;

  constructor(private readonly options: JobControlOptions) {
    this.clock = options.clock ?? systemClock;
  }

  private get queue(): QueueSession {
    return this.options.runtime.queue;
  }

  definitions(): Promise<DefinitionsRead> {
    return this.options.definitions.read();
  }

  view(job: Job): JobView {
    return jobView(job, this.clock.now());
  }

  /** The job by id, or ControlError 'unknownJob'. */
  get(id: string): JobView {
    return this.view(this.requireJob(id));
  }

  /** Every job in the queue: running and waiting ones in queue order, then the finished, newest first. */
  list(): JobView[] {
    const jobs = this.queue.jobs;
    const open = jobs.filter((job) => !isSettled(job)).sort(compareJobs);
    const done = jobs.filter((job) => isSettled(job)).sort((a, b) => (b.finishedAt ?? b.createdAt) - (a.finishedAt ?? a.createdAt));
    return [...open, ...done].map((job) => this.view(job));
  }

  status(): StatusView {
    const flags = this.queue.flags;
    return {
      schemaVersion: JOB_VIEW_SCHEMA_VERSION,
      workspace: this.options.workspaceKey,
      paused: flags?.paused ?? false,
      concurrency: flags?.concurrency ?? 1,
      jobs: this.list(),
    };
  }

  /** Queues a job; resolves with it once the queue has it on disk. */
  async add(input: unknown): Promise<JobView> {
    const request = parseAddRequest(input);
    await this.options.requireTrust('run jobs');
    const definition = await this.definitionFor(request);
    const estimatedDurationMs = await this.options.runtime.estimateDuration?.(definition).catch(() => undefined);
    const command: QueueCommand = {
      type: 'enqueue',
      definition,
      ...(request.delaySeconds ? { runAt: this.clock.now() + request.delaySeconds * 1000 } : {}),
      ...(estimatedDurationMs !== undefined ? { estimatedDurationMs } : {}),
    };
    const result = await this.execute(command);
    const id = result.jobId;
    if (id === undefined) throw new ControlError('invalidRequest', 'The queue did not return the new job.');
    return this.view(await this.until(id, (job) => job !== undefined));
  }

  private async definitionFor(request: AddRequest): Promise<JobDefinition> {
    const common = {
      ...(request.priority !== undefined ? { priority: request.priority } : {}),
      ...(request.tags !== undefined ? { tags: request.tags } : {}),
    };
    if (request.command !== undefined) {
      return {
        name: request.label ?? nameOf(request.command),
        command: request.command,
        ...(request.cwd ? { cwd: request.cwd } : {}),
        ...common,
      };
    }
    if (request.stages !== undefined) {
      return {
        name:
          request.label ??
          request.stages
            .map((stage) => stage.name)
            .join(' → ')
            .slice(0, 200),
        stages: request.stages,
        ...(request.cwd ? { cwd: request.cwd } : {}),
        ...common,
      };
    }
    const read = await this.options.definitions.read();
    const found = read.definitions.find((definition) => definition.name === request.definition);
    if (!found) {
      const known = read.definitions.map((definition) => definition.name);
      const why = read.problem ?? (known.length > 0 ? `the definitions are: ${known.join(', ')}` : 'the file defines no jobs');
      throw new ControlError('unknownDefinition', `No job named "${request.definition}" in .vscode/lifeline.json (${why}).`);
    }
    const folders = await this.options.definitions.foldersToAllow(found);
    if (folders.length > 0) {
      throw new ControlError(
        'needsApproval',
        `Job "${found.name}" runs in ${folders.join(', ')}, outside the workspace; allow it once from VS Code (Lifeline: Run Job…) first.`,
      );
    }
    return { ...found, ...(request.label ? { name: request.label } : {}), ...common };
  }

  cancel(id: string): Promise<JobView> {
    return this.onJob(id, { type: 'cancel', jobId: id });
  }

  async retry(id: string): Promise<JobView> {
    await this.options.requireTrust('run jobs');
    return this.onJob(id, { type: 'retry', jobId: id });
  }

  async resume(id: string): Promise<JobView> {
    await this.options.requireTrust('run jobs');
    return this.onJob(id, { type: 'resume', jobId: id });
  }

  async setPaused(paused: boolean): Promise<StatusView> {
    if (!paused) await this.options.requireTrust('run jobs');
    await this.execute({ type: 'setPaused', paused });
    return this.status();
  }

  private async onJob(id: string, command: QueueCommand): Promise<JobView> {
    this.requireJob(id);
    await this.execute(command);
    return this.get(id);
  }

  /**
   * Waits until each job is settled (finished, or interrupted), or the timeout passes, or `signal`
   * aborts. `ids` empty: every job that is not settled now.
   */
  async wait(ids: readonly string[], options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<WaitResult> {
    const wanted = ids.length > 0 ? [...new Set(ids)] : this.queue.jobs.filter((job) => !isSettled(job)).map((job) => job.id);
    for (const id of wanted) this.requireJob(id);
    const timedOut = await this.whenAll(wanted, options);
    return {
      jobs: wanted
        .map((id) => this.queue.getJob(id))
        .filter((job): job is Job => job !== undefined)
        .map((job) => this.view(job)),
      timedOut,
    };
  }

  /** Resolves true when the timeout passed before every job settled. */
  private whenAll(ids: readonly string[], options: { timeoutMs?: number; signal?: AbortSignal }): Promise<boolean> {
    const done = (): boolean => ids.every((id) => isSettled(this.queue.getJob(id)));
    if (done()) return Promise.resolve(false);
    return new Promise((resolve, reject) => {
      const finish = (timedOut: boolean): void => {
        subscription.dispose();
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        resolve(timedOut);
      };
      const onAbort = (): void => {
        subscription.dispose();
        clearTimeout(timer);
        reject(options.signal?.reason ?? new Error('aborted'));
      };
      const subscription = this.queue.onDidChange(() => {
        if (done()) finish(false);
      });
      const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => finish(!done()), options.timeoutMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Resolves with the job once `test` holds for it (checked now and after each queue event). */
  until(id: string, test: (job: Job | undefined) => boolean, signal?: AbortSignal): Promise<Job> {
    const check = (): Job | undefined => {
      const job = this.queue.getJob(id);
      return test(job) ? job : undefined;
    };
    const now = check();
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        subscription.dispose();
        reject(signal?.reason ?? new Error('aborted'));
      };
      const subscription = this.queue.onDidChange(() => {
        const job = check();
        if (!job) return;
        subscription.dispose();
        signal?.removeEventListener('abort', onAbort);
        resolve(job);
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The last `lines` lines of the output of the job's latest attempt ('' before it ran). */
  async tail(id: string, lines: number): Promise<string> {
    const path = outputPathOf(this.options.output.jobsDirectory, this.requireJob(id));
    if (!path) return '';
    const { text } = await readOutputFrom(path, 0, this.options.output.key());
    return lastLines(withoutProtocolLines(text.toString('utf8')), lines);
  }

  /**
   * Writes the job's output as it comes, from the start of its latest attempt (or its last
   * `fromLines` lines), until the job settles and its log is read to the end; a new attempt's
   * output follows the last one's. Resolves with the job as it ended.
   */
  async follow(id: string, write: (text: string) => void, options: { fromLines?: number; signal?: AbortSignal } = {}): Promise<JobView> {
    let job = this.requireJob(id);
    let attempt = job.attempts;
    let offset = 0;
    let lines = new LineAssembler();
    const { jobsDirectory } = this.options.output;
    if (options.fromLines !== undefined && attempt > 0) {
      const path = outputPathOf(jobsDirectory, job) as string;
      const read = await readOutputFrom(path, 0, this.options.output.key());
      offset = read.end;
      write(lastLines(lines.push(read.text), options.fromLines));
    }
    const pump = async (): Promise<void> => {
      if (job.attempts !== attempt) {
        write(lines.flush());
        attempt = job.attempts;
        offset = 0;
        lines = new LineAssembler();
      }
      const path = outputPathOf(jobsDirectory, job);
      if (!path) return;
      const read = await readOutputFrom(path, offset, this.options.output.key());
      offset = read.end;
      write(lines.push(read.text));
    };
    for (;;) {
      options.signal?.throwIfAborted();
      const settled = isSettled(job);
      await pump();
      if (settled) break;
      await this.nextChange(id, FOLLOW_POLL_MS, options.signal);
      job = this.queue.getJob(id) ?? job;
    }
    write(lines.flush());
    return this.view(job);
  }

  /** Resolves after the next queue event about the job, or after `ms`, whichever is first. */
  private nextChange(id: string, ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        subscription.dispose();
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const subscription = this.queue.onDidChange((event) => {
        if (event.type !== 'jobChanged' || event.job.id === id) done();
      });
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private requireJob(id: string): Job {
    const job = this.queue.getJob(id);
    if (!job) {
      throw new ControlError(
        'unknownJob',
        `No job ${id} in the queue (a finished job leaves it after the retention days; the History panel keeps it).`,
      );
    }
    return job;
  }

  private execute(command: QueueCommand): ReturnType<QueueSession['execute']> {
    return this.queue.execute(command, randomUUID(), this.options.origin);
  }
}
