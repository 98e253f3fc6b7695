import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { CallToolResult, CreateTaskResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { JobControl } from '../core/control/jobControl';
import type { Logger } from '../core/logger';
import { JobTaskStore, taskOf } from './jobTaskStore';
import { readTools } from './mcpReadTools';
import { controlReason, errorMessage, toolError } from './mcpResults';
import { runTools } from './mcpRunTools';
import type { LifelineTool, ToolContext } from './mcpTool';
import { jsonSchemaOf } from './mcpTool';

export const MCP_SERVER_NAME = 'lifeline';

/** Every tool `lifeline mcp` offers, in the order tools/list gives them. */
export const lifelineTools: readonly LifelineTool[] = [...readTools, ...runTools];

export interface LifelineMcpServerOptions {
  /** The workspace's job control, once it is open (the server opens it after the client says who it is). */
  readonly control: () => Promise<JobControl>;
  readonly logger: Logger;
  readonly version: string;
}

const INSTRUCTIONS =
  "Lifeline runs jobs (shell commands, pipelines of stages, or jobs defined in .vscode/lifeline.json) in this workspace's durable queue. Jobs run in their own supervisor processes and outlive this conversation: start long work with run_job, then wait_for_jobs or get_job by id, now or in a later session. Nothing runs in a workspace VS Code does not trust.";

function describeTool(tool: LifelineTool): Tool {
  return {
    name: tool.name,
    title: tool.title,
    description: tool.description,
    inputSchema: jsonSchemaOf(tool.input, 'input', tool.inputDescriptions),
    outputSchema: jsonSchemaOf(tool.output, 'output') as Tool['outputSchema'],
    annotations: tool.annotations,
    execution: { taskSupport: tool.taskSupport ?? 'forbidden' },
  };
}

/**
 * The MCP server of a workspace: the tools over its JobControl, and MCP tasks over its jobs
 * (JobTaskStore). Built on the SDK's low-level Server rather than McpServer: McpServer runs a
 * task-capable tool called without a task to completion (it polls the task until it ends), and
 * run_job must answer at once then; here a plain call answers with the queued job and a call
 * with `task` answers with the job's task.
 */
export function createLifelineMcpServer(options: LifelineMcpServerOptions): Server {
  const tools = new Map(lifelineTools.map((tool) => [tool.name, tool]));
  const listed = lifelineTools.map(describeTool);
  const server = new Server(
    { name: MCP_SERVER_NAME, title: 'Lifeline', version: options.version },
    {
      capabilities: {
        tools: {},
        tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
      },
      instructions: INSTRUCTIONS,
      taskStore: new JobTaskStore(options.control),
    },
  );
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: listed }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult | CreateTaskResult> => {
    const { name, arguments: args, task } = request.params;
    const tool = tools.get(name);
    if (!tool) {
      const known = [...tools.keys()].join(', ');
      throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name.slice(0, 100)}. The tools are: ${known}.`);
    }
    if (task && tool.taskSupport === undefined) throw new McpError(ErrorCode.MethodNotFound, `The tool ${name} does not run as a task.`);
    const parsed = tool.input.safeParse(args ?? {});
    if (!parsed.success) {
      if (task) throw new McpError(ErrorCode.InvalidParams, errorMessage(parsed.error));
      return toolError(errorMessage(parsed.error));
    }
    const progressToken = extra._meta?.progressToken;
    const progress: ToolContext['progress'] = (value, total, message) =>
      progressToken === undefined
        ? Promise.resolve()
        : extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress: value, total, message } });
    try {
      const control = await options.control();
      const result = await tool.run(parsed.data, { control, signal: extra.signal, progress });
      if (!task) return result;
      // The tool ran as a task: run_job queued a job, and the job is the task.
      const job = (result.structuredContent as { job?: { id: string } } | undefined)?.job;
      if (!job) throw new McpError(ErrorCode.InternalError, `The tool ${name} did not queue a job.`);
      return { task: taskOf(control.get(job.id)) };
    } catch (error) {
      if (error instanceof McpError) throw error;
      const message = errorMessage(error);
      options.logger.info(`[mcp] ${name} refused: ${controlReason(error) ?? 'error'}: ${message}`);
      // A task-augmented call must answer with a task or a protocol error; a plain call with a tool result.
      if (task) throw new McpError(ErrorCode.InvalidParams, message, { reason: controlReason(error) });
      return toolError(message);
    }
  });
  return server;
}
