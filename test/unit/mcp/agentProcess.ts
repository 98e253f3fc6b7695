import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';

/**
 * An agent in its own process, for the tests where the agent dies: it starts `lifeline mcp` with
 * the SDK's stdio client, makes one tool call (as a task when asked), prints
 * `{serverPid, result}` as one JSON line and then stays until it is killed.
 * argv[2]: {server: {command, args, env}, request: {tool, arguments, asTask?}}.
 */
interface AgentArgs {
  readonly server: { command: string; args: string[]; env: Record<string, string> };
  readonly request: { tool: string; arguments: Record<string, unknown>; asTask?: boolean };
}

async function main(): Promise<void> {
  const { server, request } = JSON.parse(process.argv[2] ?? '{}') as AgentArgs;
  const transport = new StdioClientTransport({ ...server, stderr: 'inherit' });
  const client = new Client({ name: 'agent-process', version: '1.0.0' });
  await client.connect(transport);
  let result: unknown;
  if (request.asTask) {
    // Only the task's creation: the agent dies before it could poll.
    const stream = client.experimental.tasks.callToolStream({ name: request.tool, arguments: request.arguments }, CallToolResultSchema, {
      task: { ttl: 60_000 },
    });
    const first = await stream.next();
    result = first.value;
  } else {
    result = await client.callTool({ name: request.tool, arguments: request.arguments });
  }
  process.stdout.write(`${JSON.stringify({ serverPid: transport.pid, result })}\n`);
  setInterval(() => undefined, 60_000);
}

main().catch((error: unknown) => {
  process.stderr.write(`agent failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
