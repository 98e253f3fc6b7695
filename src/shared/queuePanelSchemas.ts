import { z } from 'zod';
import { displayStates } from './jobDisplay';
import type { QueuePanelCommand, QueuePanelState } from './queuePanelProtocol';

export const queuePanelStateSchema = z
  .object({
    version: z.literal(1),
    filter: z.string().max(500),
    scrollTop: z.number().min(0).max(10_000_000),
    selectedJobId: z.string().max(200).optional(),
    states: z.array(z.enum(displayStates)).max(displayStates.length).optional(),
  })
  .strict() satisfies z.ZodType<QueuePanelState>;

export const queuePanelCommandSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }).strict(),
  z.object({ type: z.literal('stateChanged'), state: queuePanelStateSchema }).strict(),
  z.object({ type: z.literal('showLog') }).strict(),
  z.object({ type: z.literal('runJob') }).strict(),
  z.object({ type: z.literal('jobAction'), action: z.enum(['cancel', 'retry', 'resume', 'discard', 'showOutput']), jobId: z.string().min(1).max(200) }).strict(),
]) satisfies z.ZodType<QueuePanelCommand>;
