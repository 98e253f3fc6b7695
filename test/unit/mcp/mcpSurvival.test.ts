import * as assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CallToolResult, CreateTaskResult } from '@modelcontextprotocol/sdk/types.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import type { JobView } from '../../../src/core/control/jobView';
import type { JobResult } from '../../../src/mcp/mcpResults';
import { startAgent, textOf, useMcpKit } from './mcpTestKit';

/** A job that runs until the test creates `go` in the workspace, then exits 3: it is surely running while its agent dies. */
const WAITS_THEN_EXITS_3 = 'while [ ! -f go ]; do sleep 0.05; done; exit 3';

function jobOf(result: unknown): JobView {
  const job = ((result as CallToolResult).structuredContent as JobResult | undefined)?.job;
  assert.ok(job, `a job in ${JSON.stringify(result)}`);
  return job;
}

describe('lifeline mcp: jobs outlive the agent and its server', function () {
  this.timeout(90_000);
  const kit = useMcpKit();

  it('answers a new client on a new server with the result of a job whose agent and server were SIGKILLed', async () => {
    const folders = kit.folders();
    const { child, line } = await startAgent(folders, { tool: 'run_job', arguments: { command: WAITS_THEN_EXITS_3, label: 'survivor' } });
    kit.adopt(child);
    const started = jobOf(line.result);
    assert.ok(['queued', 'running'].includes(started.state), `the job has not finished when its agent dies (${started.state})`);
    process.kill(line.serverPid, 'SIGKILL');
    child.kill('SIGKILL');

    const next = await kit.connect('second-agent');
    const seen = await next.call('get_job', { id: started.id });
    assert.equal(seen.isError, undefined, textOf(seen));
    assert.equal((seen.structuredContent as JobResult).job.name, 'survivor');
    writeFileSync(join(folders.workspace, 'go'), '');
    const waited = await next.call('wait_for_jobs', { ids: [started.id], timeoutSeconds: 60 });
    const result = waited.structuredContent as { jobs: JobView[]; timedOut: boolean };
    assert.equal(result.timedOut, false, next.stderr());
    assert.equal(result.jobs[0]?.state, 'failed');
    assert.equal(result.jobs[0]?.exitCode, 3);
    assert.match(textOf(waited), /exit code 3/);
  });

  it('leaves running jobs alone when its client closes it', async () => {
    const folders = kit.folders();
    const first = await kit.connect();
    const started = jobOf(await first.call('run_job', { command: WAITS_THEN_EXITS_3 }));
    const serverExit = new Promise<number | null>((resolve) => {
      const pid = first.transport.pid as number;
      const timer = setInterval(() => {
        try {
          process.kill(pid, 0);
        } catch {
          clearInterval(timer);
          resolve(pid);
        }
      }, 50);
    });
    await first.client.close();
    await serverExit;
    assert.match(first.stderr(), /closing \(jobs keep running\)/);

    const next = await kit.connect();
    const seen = jobOf(await next.call('get_job', { id: started.id }));
    assert.equal(seen.state, 'running', 'the job still runs after the server that started it closed');
    writeFileSync(join(folders.workspace, 'go'), '');
    const waited = await next.call('wait_for_jobs', { ids: [started.id], timeoutSeconds: 60 });
    assert.equal((waited.structuredContent as { jobs: JobView[] }).jobs[0]?.exitCode, 3);
  });

  it('keeps a run_job task by the job id: tasks/get and tasks/result on a new server after the first died', async () => {
    const folders = kit.folders();
    const { child, line } = await startAgent(folders, { tool: 'run_job', arguments: { command: WAITS_THEN_EXITS_3 }, asTask: true });
    kit.adopt(child);
    const created = line.result as { type: string; task: CreateTaskResult['task'] };
    assert.equal(created.type, 'taskCreated');
    assert.equal(created.task.status, 'working');
    process.kill(line.serverPid, 'SIGKILL');
    child.kill('SIGKILL');

    const next = await kit.connect();
    const job = await next.call('get_job', { id: created.task.taskId, outputLines: 0 });
    assert.equal((job.structuredContent as JobResult).job.id, created.task.taskId, 'the task id is the job id');
    const polled = await next.client.experimental.tasks.getTask(created.task.taskId);
    assert.equal(polled.status, 'working');
    writeFileSync(join(folders.workspace, 'go'), '');
    // tasks/result blocks until the task is terminal, then answers with the job's result.
    const result = (await next.client.experimental.tasks.getTaskResult(created.task.taskId, CallToolResultSchema, {
      timeout: 60_000,
    })) as CallToolResult;
    assert.equal(result.isError, true, 'a job that failed is a failed task');
    assert.equal((result.structuredContent as JobResult).job.exitCode, 3);
    assert.equal((await next.client.experimental.tasks.getTask(created.task.taskId)).status, 'failed');
  });

  it('cancels the job through tasks/cancel from a new server', async () => {
    const folders = kit.folders();
    const { child, line } = await startAgent(folders, { tool: 'run_job', arguments: { command: WAITS_THEN_EXITS_3 }, asTask: true });
    kit.adopt(child);
    const taskId = (line.result as { task: CreateTaskResult['task'] }).task.taskId;
    process.kill(line.serverPid, 'SIGKILL');
    child.kill('SIGKILL');

    const next = await kit.connect();
    const cancelled = await next.client.experimental.tasks.cancelTask(taskId, { timeout: 60_000 });
    assert.equal(cancelled.status, 'cancelled', JSON.stringify(cancelled));
    const job = await next.call('get_job', { id: taskId });
    assert.equal((job.structuredContent as JobResult).job.state, 'cancelled');
  });
});
