import { z } from 'zod';
import type { HistoryPanelCommand, HistoryPanelState } from './historyPanelProtocol';
import { historySources, historyStates } from './historyPanelProtocol';
import type { MessageSchemas } from './panelSchemas';
import { inboundKinds, inboundSchema, readyCommandSchema, stateChangedCommandSchema } from './panelSchemas';

export const historyPanelStateSchema = z
  .object({
    version: z.literal(1),
    search: z.string().max(500),
    states: z.array(z.enum(historyStates)).max(historyStates.length),
    source: z.enum(historySources),
    scrollTop: z.number().min(0).max(100_000_000),
    selectedJobId: z.string().max(300).optional(),
    pages: z.number().int().min(1).max(200),
  })
  .strict() satisfies z.ZodType<HistoryPanelState>;

const querySchema = z
  .object({ search: z.string().max(500), states: z.array(z.enum(historyStates)).max(historyStates.length), source: z.enum(historySources) })
  .strict();

/** Each command and request the History panel's webview may send, and nothing else. */
export const historyPanelCommandSchemas = {
  ready: readyCommandSchema,
  stateChanged: stateChangedCommandSchema(historyPanelStateSchema),
  query: z
    .object({ type: z.literal('query'), requestId: z.number().int().min(0), query: querySchema, cursor: z.string().max(2000).optional() })
    .strict(),
  restore: z.object({ type: z.literal('restore'), shard: z.string().min(1).max(300), jobId: z.string().min(1).max(300) }).strict(),
  export: z.object({ type: z.literal('export') }).strict(),
  archiveNow: z.object({ type: z.literal('archiveNow') }).strict(),
} satisfies MessageSchemas<HistoryPanelCommand>;

export const historyPanelCommandSchema = inboundSchema<HistoryPanelCommand>(historyPanelCommandSchemas);
export const historyPanelCommands = inboundKinds<HistoryPanelCommand>(historyPanelCommandSchemas);
