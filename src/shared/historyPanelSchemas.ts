import { z } from 'zod';
import type { HistoryPanelCommand, HistoryPanelState } from './historyPanelProtocol';
import { historyStates } from './historyPanelProtocol';

export const historyPanelStateSchema = z
  .object({
    version: z.literal(1),
    search: z.string().max(500),
    states: z.array(z.enum(historyStates)).max(historyStates.length),
    source: z.enum(['active', 'archive']),
    scrollTop: z.number().min(0).max(100_000_000),
    selectedJobId: z.string().max(300).optional(),
    pages: z.number().int().min(1).max(200),
  })
  .strict() satisfies z.ZodType<HistoryPanelState>;

const querySchema = z.object({ search: z.string().max(500), states: z.array(z.enum(historyStates)).max(historyStates.length), source: z.enum(['active', 'archive']) }).strict();

export const historyPanelCommandSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }).strict(),
  z.object({ type: z.literal('stateChanged'), state: historyPanelStateSchema }).strict(),
  z.object({ type: z.literal('query'), requestId: z.number().int().min(0), query: querySchema, cursor: z.string().max(2000).optional() }).strict(),
  z.object({ type: z.literal('restore'), shard: z.string().min(1).max(300), jobId: z.string().min(1).max(300) }).strict(),
  z.object({ type: z.literal('export') }).strict(),
  z.object({ type: z.literal('archiveNow') }).strict(),
]) satisfies z.ZodType<HistoryPanelCommand>;
