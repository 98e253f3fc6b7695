import type { CallToolResult, Tool, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { JobControl } from '../core/control/jobControl';

/** What a tool runs with: the workspace's job control, the request's abort signal, a way to say it is alive. */
export interface ToolContext {
  readonly control: JobControl;
  /** Aborted when the client cancels the request or goes away. */
  readonly signal: AbortSignal;
  /**
   * Sends notifications/progress when the client asked for them (a progress token), so a client
   * that resets its request timeout on progress keeps waiting; does nothing otherwise.
   * `progress` only ever grows, as the protocol requires.
   */
  readonly progress: (progress: number, total: number | undefined, message: string) => Promise<void>;
}

/** One MCP tool of Lifeline: its schema for the model, its annotations, and what it does. */
export interface LifelineTool {
  readonly name: string;
  readonly title: string;
  /** Written for a model: what the tool does, when to use it, what it returns. */
  readonly description: string;
  /** Validates the arguments (strict: unknown fields are refused). */
  readonly input: z.ZodType;
  /** Shown to the client as inputSchema: `input`'s JSON Schema with these descriptions per property. */
  readonly inputDescriptions?: Readonly<Record<string, string>>;
  /** The shape of `structuredContent` on success. */
  readonly output: z.ZodType;
  readonly annotations: ToolAnnotations;
  /** The tool can run as an MCP task (tasks extension): run_job, whose task id is the job id. */
  readonly taskSupport?: 'optional';
  run(args: unknown, context: ToolContext): Promise<CallToolResult>;
}

/** Types a tool's `run` by its input schema. */
export function defineTool<S extends z.ZodType>(
  tool: Omit<LifelineTool, 'input' | 'run'> & { input: S; run(args: z.output<S>, context: ToolContext): Promise<CallToolResult> },
): LifelineTool {
  return tool as LifelineTool;
}

/**
 * A zod schema as the JSON Schema an MCP client expects (an object at the root). The `$schema`
 * key is left out: MCP takes 2020-12 as the default, and validators built for draft-07 (the SDK's
 * own ajv) refuse a `$schema` they do not know.
 */
export function jsonSchemaOf(
  schema: z.ZodType,
  io: 'input' | 'output',
  descriptions: Readonly<Record<string, string>> = {},
): Tool['inputSchema'] {
  const json = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  const properties = json.properties as Record<string, Record<string, unknown>> | undefined;
  for (const [key, description] of Object.entries(descriptions)) {
    const property = properties?.[key];
    if (property) property.description = description;
  }
  return { ...json, type: 'object' } as Tool['inputSchema'];
}

/** A job id as a tool takes it. */
export const jobIdSchema = z.string().trim().min(1).max(200);
