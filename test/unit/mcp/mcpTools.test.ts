import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateTaskResultSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { JobView } from '../../../src/core/control/jobView';
import type { JobResult } from '../../../src/mcp/mcpResults';
import type { Connection } from './mcpTestKit';
import { serverCommand, textOf, useMcpKit } from './mcpTestKit';

const READING = ['list_job_definitions', 'list_jobs', 'get_job', 'wait_for_jobs'];
const RUNNING = ['run_job', 'retry_job'];

async function jobCount(connection: Connection): Promise<number> {
  const listed = await connection.call('list_jobs', { limit: 200 });
  assert.equal(listed.isError, undefined, textOf(listed));
  return (listed.structuredContent as { total: number }).total;
}

describe('lifeline mcp: tools', function () {
  this.timeout(60_000);
  const kit = useMcpKit();

  it('initializes as lifeline and lists every tool with its schema and annotations', async () => {
    const { client } = await kit.connect();
    assert.equal(client.getServerVersion()?.name, 'lifeline');
    assert.ok(client.getServerCapabilities()?.tasks?.requests?.tools?.call, 'task-augmented tools/call is offered');
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((tool) => tool.name).sort(), [...READING, ...RUNNING, 'cancel_job'].sort());
    for (const tool of tools) {
      assert.equal(tool.inputSchema.type, 'object', tool.name);
      assert.equal(
        (tool.inputSchema as { additionalProperties?: unknown }).additionalProperties,
        false,
        `${tool.name} refuses unknown fields`,
      );
      assert.ok(tool.description && tool.description.length > 40, `${tool.name} is described for a model`);
      assert.equal(tool.outputSchema?.type, 'object', tool.name);
      const hints = tool.annotations;
      assert.ok(hints, `${tool.name} has annotations`);
      if (READING.includes(tool.name)) assert.deepEqual([hints.readOnlyHint, hints.openWorldHint], [true, false], tool.name);
      else assert.deepEqual([hints.readOnlyHint, hints.destructiveHint], [false, true], tool.name);
      if (RUNNING.includes(tool.name)) assert.equal(hints.openWorldHint, true, `${tool.name} runs a command`);
      assert.equal(tool.execution?.taskSupport, tool.name === 'run_job' ? 'optional' : 'forbidden', tool.name);
    }
    const run = tools.find((tool) => tool.name === 'run_job');
    const properties = run?.inputSchema.properties as Record<string, { description?: string }>;
    assert.match(properties.label?.description ?? '', /never run/);
  });

  it('runs a command, a definition and stages; gets, lists, cancels and runs a job again', async () => {
    const { workspace } = kit.folders();
    mkdirSync(join(workspace, '.vscode'));
    writeFileSync(
      join(workspace, '.vscode', 'lifeline.json'),
      JSON.stringify({
        version: 1,
        jobs: [
          { name: 'greet', command: 'echo hello from greet' },
          {
            name: 'two',
            stages: [
              { name: 'a', command: 'true' },
              { name: 'b', command: 'true' },
            ],
          },
        ],
      }),
    );
    const agent = await kit.connect();
    const definitions = await agent.call('list_job_definitions');
    assert.equal((definitions.structuredContent as { problem?: string }).problem, undefined, textOf(definitions));
    assert.deepEqual(
      (definitions.structuredContent as { definitions: { name: string }[] }).definitions.map((d) => d.name),
      ['greet', 'two'],
    );
    const greet = (await agent.call('run_job', { definition: 'greet', tags: ['mcp'] })).structuredContent as JobResult;
    const staged = (await agent.call('run_job', { stages: [{ name: 'one', command: 'echo one' }], label: 'staged' }))
      .structuredContent as JobResult;
    const waited = await agent.call('wait_for_jobs', { ids: [greet.job.id, staged.job.id], timeoutSeconds: 60 });
    assert.deepEqual(
      (waited.structuredContent as { jobs: JobView[] }).jobs.map((job) => job.state),
      ['succeeded', 'succeeded'],
    );
    const got = await agent.call('get_job', { id: greet.job.id, outputLines: 5 });
    assert.equal((got.structuredContent as JobResult).output?.trim(), 'hello from greet');
    assert.deepEqual((got.structuredContent as JobResult).job.tags, ['mcp']);
    const again = await agent.call('retry_job', { id: greet.job.id });
    assert.equal(again.isError, undefined, textOf(again));
    const long = (await agent.call('run_job', { command: 'sleep 30' })).structuredContent as JobResult;
    const cancelled = await agent.call('cancel_job', { id: long.job.id });
    assert.equal(cancelled.isError, undefined, textOf(cancelled));
    await agent.call('wait_for_jobs', { ids: [long.job.id], timeoutSeconds: 60 });
    const finished = await agent.call('list_jobs', { state: 'cancelled' });
    assert.deepEqual(
      (finished.structuredContent as { jobs: JobView[] }).jobs.map((job) => job.id),
      [long.job.id],
    );
  });

  it('answers hostile and malformed calls with an error and changes nothing', async () => {
    const { workspace } = kit.folders();
    const agent = await kit.connect();
    const before = await jobCount(agent);
    const pwned = join(workspace, 'pwned');
    const refused: [string, Record<string, unknown>, RegExp][] = [
      ['run_job', { command: 42 }, /command/],
      ['run_job', { command: ['touch', pwned] }, /command/],
      ['run_job', { command: 'x'.repeat(100_001) }, /command/],
      ['run_job', { label: `x; touch ${pwned}` }, /exactly one of/],
      ['run_job', { definition: `$(touch ${pwned})` }, /No job named/],
      ['run_job', { command: 'true', definition: 'greet' }, /exactly one of/],
      ['run_job', { command: 'true', shell: `touch ${pwned}` }, /shell/],
      ['run_job', { command: 'true', priority: '1; rm -rf /' }, /priority/],
      ['run_job', { command: 'true', tags: ['x'.repeat(51)] }, /tags/],
      ['run_job', { stages: [{ name: 'a', command: 'true', env: { X: '1' } }] }, /env/],
      ['get_job', { id: 123 }, /id/],
      ['get_job', { id: 'no-such-job' }, /no-such-job/],
      ['get_job', { id: 'x'.repeat(10_000) }, /id/],
      ['wait_for_jobs', { ids: ['no-such-job'], timeoutSeconds: 1 }, /no-such-job/],
      ['wait_for_jobs', { timeoutSeconds: 1e9 }, /timeoutSeconds/],
      ['cancel_job', { id: 'no-such-job' }, /no-such-job/],
      ['retry_job', { id: 'no-such-job', mode: 'again' }, /mode/],
      ['list_jobs', { state: 'everything' }, /state/],
    ];
    for (const [tool, args, message] of refused) {
      const result = await agent.call(tool, args);
      assert.equal(result.isError, true, `${tool} ${JSON.stringify(args).slice(0, 100)} is refused`);
      assert.match(textOf(result), message, `${tool} ${JSON.stringify(args).slice(0, 100)}`);
    }
    await assert.rejects(agent.call('run_shell', { command: `touch ${pwned}` }), (error: unknown) => {
      assert.ok(error instanceof McpError);
      assert.match(error.message, /Unknown tool: run_shell/);
      return true;
    });
    // A task-augmented call to a tool that is no task: a protocol error, nothing run.
    await assert.rejects(
      agent.client.request(
        { method: 'tools/call', params: { name: 'retry_job', arguments: { id: 'x' }, task: { ttl: 1000 } } },
        CreateTaskResultSchema,
      ),
      /does not run as a task/,
    );
    assert.equal(await jobCount(agent), before, 'no job was added');
    assert.equal(existsSync(pwned), false);
  });

  it('never runs a label: shell syntax in it is a name', async () => {
    const { workspace } = kit.folders();
    const agent = await kit.connect();
    const label = `$(touch ${join(workspace, 'pwned')}); \`touch ${join(workspace, 'pwned2')}\``;
    const run = (await agent.call('run_job', { command: 'true', label })).structuredContent as JobResult;
    assert.equal(run.job.name, label);
    const waited = await agent.call('wait_for_jobs', { ids: [run.job.id], timeoutSeconds: 60 });
    assert.equal((waited.structuredContent as { jobs: JobView[] }).jobs[0]?.state, 'succeeded');
    assert.equal(existsSync(join(workspace, 'pwned')), false);
    assert.equal(existsSync(join(workspace, 'pwned2')), false);
  });

  it('survives lines that are not JSON-RPC and answers the next request', async () => {
    const command = serverCommand(kit.folders());
    const server = spawn(command.command, command.args, { env: command.env, stdio: ['pipe', 'pipe', 'pipe'] });
    kit.adopt(server);
    let out = '';
    const answered = new Promise<Record<string, unknown>>((resolve, reject) => {
      server.once('exit', (code) => reject(new Error(`the server exited (${code}) instead of answering`)));
      server.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        for (const line of out.split('\n').slice(0, -1)) {
          const message = JSON.parse(line) as Record<string, unknown>;
          if (message.id === 7) resolve(message);
        }
      });
    });
    server.stdin.write('this is not json\n');
    server.stdin.write('{"jsonrpc":"2.0","id":1,"method":\n');
    server.stdin.write(
      '{"jsonrpc":"1.0","id":2,"method":"tools/call","params":{"name":"run_job","arguments":{"command":"touch pwned"}}}\n',
    );
    server.stdin.write('[1,2,3]\n');
    const initialize = {
      jsonrpc: '2.0',
      id: 7,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
    };
    server.stdin.write(`${JSON.stringify(initialize)}\n`);
    const reply = await answered;
    assert.equal((reply.result as { serverInfo: { name: string } }).serverInfo.name, 'lifeline');
    assert.equal(existsSync(join(kit.folders().workspace, 'pwned')), false);
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.stdin.end();
    assert.equal(await exited, 0, 'stdin ending ends the server');
  });
});

describe('lifeline mcp: an untrusted workspace', function () {
  this.timeout(60_000);

  for (const trust of ['untrusted', 'none'] as const) {
    describe(trust === 'none' ? 'with no trust record' : 'with a record of no trust', () => {
      const kit = useMcpKit(trust);

      it('lists its tools, and every tool refuses without opening the queue (holding it would run it)', async () => {
        const agent = await kit.connect();
        const tools = await agent.client.listTools();
        assert.ok(tools.tools.some((tool) => tool.name === 'run_job'));
        const reason = trust === 'none' ? /has not told Lifeline/ : /not trusted/;
        const run = await agent.call('run_job', { command: `touch ${join(kit.folders().workspace, 'ran')}` });
        assert.equal(run.isError, true);
        assert.match(textOf(run), /does not open this workspace's queue/);
        assert.match(textOf(run), reason);
        await assert.rejects(
          agent.client.experimental.tasks
            .callToolStream({ name: 'run_job', arguments: { command: 'true' } }, undefined, { task: { ttl: 1000 } })
            .next()
            .then((first) => {
              if (first.value?.type === 'error') throw first.value.error;
              return first;
            }),
          /does not open this workspace's queue/,
        );
        for (const [tool, args] of [
          ['retry_job', { id: 'any', mode: 'resume' }],
          ['list_jobs', {}],
          ['list_job_definitions', {}],
        ] as const) {
          const result = await agent.call(tool, args);
          assert.equal(result.isError, true, tool);
          assert.match(textOf(result), reason, tool);
        }
        assert.equal(existsSync(join(kit.folders().workspace, 'ran')), false);
        assert.equal(existsSync(join(kit.folders().storage, 'queue')), false, 'the queue was never opened');
        assert.equal(existsSync(join(kit.folders().storage, 'queue.lease')), false);
      });
    });
  }
});
