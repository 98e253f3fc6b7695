import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { ControlError } from '../../src/core/control/controlErrors';
import type { JobView } from '../../src/core/control/jobView';
import { jobViewSchema } from '../../src/core/control/jobView';
import { abortSignalOf } from '../../src/vscode/chatToolControl';
import { CHAT_TOOLS } from '../../src/vscode/chatTools';
import { codeBlock, retryConfirmation, runConfirmation } from '../../src/vscode/chatToolMessages';
import { MCP_TESTING_COMMAND, offersMcpRegistration } from '../../src/vscode/mcpRegistration';
import type { McpServerLaunch } from '../../src/vscode/mcpRegistration';
import { lifelineApi, readyQueue, until } from './integrationKit';

function folder(): string {
  const first = vscode.workspace.workspaceFolders?.[0];
  assert.ok(first);
  return first.uri.fsPath;
}

/** Invokes a tool as chat would (outside a chat request: the test host answers its confirmation yes). */
async function invoke(name: string, input: object, token?: vscode.CancellationToken): Promise<{ summary: string; json: unknown }> {
  const result = await vscode.lm.invokeTool(name, { input, toolInvocationToken: undefined }, token);
  assert.equal(result.content.length, 1);
  const part = result.content[0];
  assert.ok(part instanceof vscode.LanguageModelTextPart, 'the result is one text part');
  const cut = part.value.indexOf('\n\n');
  assert.ok(cut > 0, `a summary, a blank line, then JSON: ${part.value}`);
  return { summary: part.value.slice(0, cut), json: JSON.parse(part.value.slice(cut + 2)) };
}

function jobOf(json: unknown): JobView {
  return jobViewSchema.parse((json as { job: unknown }).job);
}

describe('chat tools (vscode.lm, in a real extension host)', () => {
  it('contributes each tool with its tags, a description for the model and an input schema', async () => {
    await lifelineApi();
    const ours = vscode.lm.tools.filter((tool) => tool.name.startsWith('lifeline_'));
    assert.deepEqual(ours.map((tool) => tool.name).sort(), Object.values(CHAT_TOOLS).sort());
    for (const tool of ours) {
      assert.ok(tool.tags.includes('lifeline'), `${tool.name} is tagged lifeline`);
      assert.ok(tool.description.length > 40, `${tool.name} tells the model what it does`);
      assert.equal((tool.inputSchema as { type?: string } | undefined)?.type, 'object');
    }
    const runs = ours.filter((tool) => tool.tags.includes('runsCommands')).map((tool) => tool.name);
    assert.deepEqual(runs.sort(), [CHAT_TOOLS.retryJob, CHAT_TOOLS.runJob].sort());
  });

  it('lists the definitions of .vscode/lifeline.json', async () => {
    await readyQueue();
    const file = JSON.parse(readFileSync(join(folder(), '.vscode', 'lifeline.json'), 'utf8')) as { jobs: { name: string }[] };
    const { summary, json } = await invoke(CHAT_TOOLS.listDefinitions, {});
    const names = (json as { definitions: { name: string }[] }).definitions.map((definition) => definition.name);
    assert.deepEqual(
      names,
      file.jobs.map((job) => job.name),
    );
    assert.ok(names.length > 0, 'the sample workspace defines jobs');
    for (const name of names) assert.ok(summary.includes(name), `the summary names ${name}: ${summary}`);
  });

  it('runs a command, gets it, waits for it (its exit code and output come back), and retries it', async () => {
    const queue = await readyQueue();
    const run = await invoke(CHAT_TOOLS.runJob, { command: 'echo "from chat $LIFELINE_JOB_ID"; exit 3', label: 'chat tool run' });
    const queued = jobOf(run.json);
    assert.equal(queued.name, 'chat tool run');
    assert.ok(run.summary.includes(queued.id), run.summary);
    const got = await invoke(CHAT_TOOLS.getJob, { id: queued.id });
    assert.equal(jobOf(got.json).id, queued.id);

    const waited = await invoke(CHAT_TOOLS.waitForJobs, { ids: [queued.id], timeoutSeconds: 120 });
    const result = waited.json as { timedOut: boolean; jobs: { job: unknown; outputTail: string }[] };
    assert.equal(result.timedOut, false);
    assert.equal(result.jobs.length, 1);
    const done = jobViewSchema.parse(result.jobs[0]?.job);
    assert.equal(done.state, 'failed');
    assert.equal(done.exitCode, 3);
    assert.equal(result.jobs[0]?.outputTail, `from chat ${queued.id}\n`);
    assert.ok(waited.summary.includes('exit code 3'), waited.summary);
    assert.equal(queue.getJob(queued.id)?.state, 'failed', 'the window sees the same job');

    const tail = await invoke(CHAT_TOOLS.getJob, { id: queued.id, tailLines: 1 });
    assert.equal((tail.json as { outputTail: string }).outputTail, `from chat ${queued.id}\n`);

    const retried = jobOf((await invoke(CHAT_TOOLS.retryJob, { id: queued.id })).json);
    assert.equal(retried.id, queued.id);
    assert.equal(retried.finished, false, `queued again: ${retried.state}`);
    const again = (await invoke(CHAT_TOOLS.waitForJobs, { ids: [queued.id], timeoutSeconds: 120 })).json as { jobs: { job: unknown }[] };
    const second = jobViewSchema.parse(again.jobs[0]?.job);
    assert.ok((second.startedAt ?? '') >= (done.finishedAt ?? 'z'), 'the retry ran the job a second time, after the first run');
    assert.equal(second.exitCode, 3);
  });

  it('stops waiting at the timeout without touching the job, and cancels it on request', async () => {
    const queue = await readyQueue();
    const { json } = await invoke(CHAT_TOOLS.runJob, { command: 'sleep 60', label: 'chat tool sleeper' });
    const id = jobOf(json).id;
    await until(queue.onDidChange, () => queue.getJob(id)?.state === 'running', 'the sleeper to run');
    const waited = await invoke(CHAT_TOOLS.waitForJobs, { ids: [id], timeoutSeconds: 0.2 });
    assert.equal((waited.json as { timedOut: boolean }).timedOut, true);
    assert.equal(queue.getJob(id)?.state, 'running');

    const cancelled = await invoke(CHAT_TOOLS.cancelJob, { id });
    assert.ok(['running', 'cancelled'].includes(jobOf(cancelled.json).state));
    await until(queue.onDidChange, () => queue.getJob(id)?.state === 'cancelled', 'the sleeper to be cancelled');
  });

  // VS Code itself rejects a cancelled invokeTool at once, so the wait's own end is checked here: the
  // signal the tool hands JobControl.wait aborts when chat cancels the call.
  it('turns a cancelled invocation into the abort signal a wait ends on', () => {
    const source = new vscode.CancellationTokenSource();
    const { signal, dispose } = abortSignalOf(source.token);
    assert.equal(signal.aborted, false);
    source.cancel();
    assert.equal(signal.aborted, true);
    assert.ok(signal.reason instanceof vscode.CancellationError);
    dispose();
    const cancelled = new vscode.CancellationTokenSource();
    cancelled.cancel();
    assert.equal(abortSignalOf(cancelled.token).signal.aborted, true, 'a call cancelled before it started does not wait');
    source.dispose();
    cancelled.dispose();
  });

  it('refuses malformed input with a message naming the problem, and queues nothing', async () => {
    const queue = await readyQueue();
    const before = queue.jobs.length;
    await assert.rejects(
      invoke(CHAT_TOOLS.runJob, { command: 'true', definition: 'Count to ten' }),
      /exactly one of a definition name, a command or stages/,
    );
    await assert.rejects(invoke(CHAT_TOOLS.runJob, { definition: 'No such job' }), /No job named "No such job"/);
    await assert.rejects(invoke(CHAT_TOOLS.getJob, { id: 'no-such-id' }), /No job no-such-id/);
    await assert.rejects(invoke(CHAT_TOOLS.waitForJobs, { timeoutSeconds: 100_000 }), /timeoutSeconds/);
    assert.equal(queue.jobs.length, before);
  });

  it('asks before running: the confirmation names the definition, its commands and the folder', () => {
    const read = {
      problem: undefined,
      definitions: [
        { name: 'Build', command: 'npm run build', cwd: 'web' },
        {
          name: 'Pipe',
          stages: [
            { name: 'one', command: 'echo 1' },
            { name: 'two', command: 'echo 2', cwd: 'sub' },
          ],
        },
      ],
    };
    const build = runConfirmation({ definition: 'Build' }, '/ws', read);
    assert.equal(build.title, 'Run "Build" in the Lifeline queue?');
    assert.ok(
      build.message.includes('**Build**') && build.message.includes('npm run build') && build.message.includes('/ws/web'),
      build.message,
    );
    const pipe = runConfirmation({ definition: 'Pipe', delaySeconds: 30 }, '/ws', read);
    assert.ok(
      pipe.message.includes('echo 1') &&
        pipe.message.includes('echo 2') &&
        pipe.message.includes('/ws/sub') &&
        pipe.message.includes('30 s'),
    );
    const command = runConfirmation({ command: 'echo ```done```' }, '/ws', read);
    assert.ok(command.message.includes(codeBlock('echo ```done```')) && command.message.includes('````sh'), command.message);
    assert.ok(command.message.includes('/ws'));
    assert.throws(
      () => runConfirmation({ definition: 'Nope' }, '/ws', read),
      (error) => ControlError.is(error, 'unknownDefinition'),
    );
    assert.throws(
      () => runConfirmation({ command: '' }, '/ws', read),
      (error) => ControlError.is(error, 'invalidRequest'),
    );
  });

  it('asks before a retry or a resume, naming the job and its command', () => {
    const job = jobViewSchema.parse({
      id: 'j1',
      name: 'Nightly *build*',
      kind: 'command',
      state: 'failed',
      finished: true,
      priority: 0,
      tags: [],
      command: 'make all',
      stages: [{ name: 'Nightly *build*', command: 'make all', completed: false }],
      attempts: 1,
      createdAt: new Date(0).toISOString(),
    });
    const again = retryConfirmation(job, '/ws');
    assert.equal(again.title, 'Run "Nightly *build*" again?');
    assert.ok(
      again.message.includes('Nightly \\*build\\*') && again.message.includes('make all') && again.message.includes('/ws'),
      again.message,
    );
    assert.equal(retryConfirmation({ ...job, state: 'interrupted', finished: false }, '/ws').title, 'Resume "Nightly *build*"?');
  });

  // The API is 1.101's: code-server 4.100.3 (VS Code 1.100) skips this; the newest one runs it, and
  // fails until package.json has the mcpServerDefinitionProviders contribution (docs/chat-tools.md).
  it('registers the MCP server with VS Code where it offers registerMcpServerDefinitionProvider', async function () {
    if (!offersMcpRegistration(vscode.version)) this.skip();
    const api = await lifelineApi();
    const seen = await vscode.commands.executeCommand<{ registered: boolean; failure?: string; provided?: McpServerLaunch[] }>(
      MCP_TESTING_COMMAND,
    );
    assert.equal(seen.registered, true, seen.failure);
    assert.equal(seen.provided?.length, 1, 'VS Code asked the provider, which offered one server');
    const server = seen.provided?.[0];
    assert.ok(server);
    assert.deepEqual(server.args.slice(1), ['mcp', '--workspace', folder()]);
    assert.ok(server.args[0]?.endsWith(join('dist', 'lifeline.js')));
    assert.equal(server.env.LIFELINE_WORKSPACE_STORAGE, api.storageDirectory);
    assert.equal(server.env.ELECTRON_RUN_AS_NODE, '1');
  });
});
