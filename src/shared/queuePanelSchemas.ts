import { z } from 'zod';
import { displayStates } from './jobDisplay';
import type { MessageSchemas } from './panelSchemas';
import { inboundKinds, inboundSchema, readyCommandSchema, stateChangedCommandSchema } from './panelSchemas';
import type { QueuePanelCommand, QueuePanelState } from './queuePanelProtocol';
import { jobActions } from './queuePanelProtocol';

export const queuePanelStateSchema = z
  .object({
    version: z.literal(1),
    filter: z.string().max(500),
    scrollTop: z.number().min(0).max(10_000_000),
    selectedJobId: z.string().max(200).optional(),
    states: z.array(z.enum(displayStates)).max(displayStates.length).optional(),
  })
  .strict() satisfies z.ZodType<QueuePanelState>;

/** Each command the dashboard's webview may send, and nothing else. */
export const queuePanelCommandSchemas = {
  ready: readyCommandSchema,
  stateChanged: stateChangedCommandSchema(queuePanelStateSchema),
  showLog: z.object({ type: z.literal('showLog') }).strict(),
  runJob: z.object({ type: z.literal('runJob') }).strict(),
  retrySaving: z.object({ type: z.literal('retrySaving') }).strict(),
  jobAction: z.object({ type: z.literal('jobAction'), action: z.enum(jobActions), jobId: z.string().min(1).max(200) }).strict(),
} satisfies MessageSchemas<QueuePanelCommand>;

export const queuePanelCommandSchema = inboundSchema<QueuePanelCommand>(queuePanelCommandSchemas);
export const queuePanelCommands = inboundKinds<QueuePanelCommand>(queuePanelCommandSchemas);
