import type { CreateTaskOptions, TaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/interfaces.js';
import type { Result, Task } from '@modelcontextprotocol/sdk/types.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { ControlError } from '../core/control/controlErrors';
import type { JobControl } from '../core/control/jobControl';
import { isSettled } from '../core/control/jobControl';
import type { JobView } from '../core/control/jobView';
import { describeJob, jobWithOutput } from './mcpResults';

/** How often a client should ask about a task (tasks/get), and how often tasks/result looks again. */
export const TASK_POLL_INTERVAL_MS = 1000;
/** Lines of output in a task's result, as get_job gives by default. */
const RESULT_OUTPUT_LINES = 40;
/** How long tasks/cancel waits for a running job's processes to be gone before it answers. */
const CANCEL_WAIT_MS = 15_000;
const PAGE = 50;

/**
 * The MCP task of a job: its id is the job id, its status the job's, so any server process of the
 * workspace answers for it (a client that reconnects to a new `lifeline mcp` still finds it).
 * A job that is interrupted (its supervisor went away) reads as failed: like `wait_for_jobs`, the
 * task is settled until someone resumes it. retry_job and a resume reuse the id, so a task that
 * reached a terminal status can become `working` again after such an explicit call.
 */
export function taskOf(job: JobView): Task {
  const status: Task['status'] =
    job.state === 'succeeded'
      ? 'completed'
      : job.state === 'cancelled'
        ? 'cancelled'
        : job.state === 'failed' || job.state === 'timedOut' || job.state === 'interrupted'
          ? 'failed'
          : 'working';
  return {
    taskId: job.id,
    status,
    statusMessage: describeJob(job),
    // The job stays as long as the queue keeps it (cleanup's retention), not for a time the client picks.
    ttl: null,
    createdAt: job.createdAt,
    lastUpdatedAt: job.finishedAt ?? job.startedAt ?? job.createdAt,
    pollInterval: TASK_POLL_INTERVAL_MS,
  };
}

function unknownTask(taskId: string): McpError {
  return new McpError(ErrorCode.InvalidParams, `No job with id ${taskId} in this workspace's queue.`);
}

/**
 * The SDK's task store over the queue: nothing is kept in this process. Tasks are created by
 * run_job only, for the job it queued (`context.jobId`); their results are the jobs' own.
 */
export class JobTaskStore implements TaskStore {
  constructor(private readonly control: () => Promise<JobControl>) {}

  async createTask(options: CreateTaskOptions): Promise<Task> {
    const jobId = options.context?.jobId;
    if (typeof jobId !== 'string') throw new McpError(ErrorCode.InvalidRequest, 'Only run_job creates tasks: a task is the job it queued.');
    return taskOf((await this.control()).get(jobId));
  }

  async getTask(taskId: string): Promise<Task | null> {
    const control = await this.control();
    try {
      return taskOf(control.get(taskId));
    } catch (error) {
      if (ControlError.is(error, 'unknownJob')) return null;
      throw error;
    }
  }

  /** The job's result is written by its supervisor, never by the protocol: nothing to store. */
  async storeTaskResult(): Promise<void> {}

  async getTaskResult(taskId: string): Promise<Result> {
    const control = await this.control();
    try {
      return await jobWithOutput(control, taskId, RESULT_OUTPUT_LINES, true);
    } catch (error) {
      if (ControlError.is(error, 'unknownJob')) throw unknownTask(taskId);
      throw error;
    }
  }

  /** tasks/cancel cancels the job and answers once its processes are gone (or after a bound). */
  async updateTaskStatus(taskId: string, status: Task['status']): Promise<void> {
    if (status !== 'cancelled') return;
    const control = await this.control();
    try {
      await control.cancel(taskId);
    } catch (error) {
      if (ControlError.is(error, 'unknownJob')) throw unknownTask(taskId);
      throw error;
    }
    const signal = AbortSignal.timeout(CANCEL_WAIT_MS);
    await control.until(taskId, isSettled, signal).catch(() => undefined);
  }

  /** Every job of the queue, as `list_jobs` orders them, a page at a time. */
  async listTasks(cursor?: string): Promise<{ tasks: Task[]; nextCursor?: string }> {
    const jobs = (await this.control()).list();
    const start = cursor === undefined ? 0 : Number.parseInt(cursor, 10);
    if (!Number.isSafeInteger(start) || start < 0) throw new McpError(ErrorCode.InvalidParams, 'Invalid cursor.');
    const page = jobs.slice(start, start + PAGE).map(taskOf);
    return start + PAGE < jobs.length ? { tasks: page, nextCursor: String(start + PAGE) } : { tasks: page };
  }
}
