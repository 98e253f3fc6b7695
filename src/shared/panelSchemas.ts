import { z } from 'zod';
import type { MessageKinds, PanelMessage } from './panelProtocol';

/**
 * One strict zod schema for each kind of message a webview sends, keyed by its `type`: the
 * compiler checks that every kind of the protocol's union has one, and that each accepts only
 * its kind. The host validates every inbound message with them (docs/panels.md).
 */
export type MessageSchemas<U extends PanelMessage> = { readonly [T in U['type']]: z.ZodType<Extract<U, { type: T }>> };

export const readyCommandSchema = z.object({ type: z.literal('ready') }).strict();

export function stateChangedCommandSchema<S>(state: z.ZodType<S>) {
  return z.object({ type: z.literal('stateChanged'), state }).strict();
}

/** The union of a panel's inbound kinds as one schema, told apart by `type`. */
export function inboundSchema<U extends PanelMessage>(schemas: MessageSchemas<U>): z.ZodType<U> {
  // Each schema is a strict object with a literal `type`, which is what a discriminated union takes.
  const options = Object.values(schemas) as unknown as Parameters<typeof z.discriminatedUnion>[1];
  return z.discriminatedUnion('type', options) as unknown as z.ZodType<U>;
}

/** The `is()` guard of each inbound kind: true only for a message that kind's schema accepts. */
export function inboundKinds<U extends PanelMessage>(schemas: MessageSchemas<U>): MessageKinds<U> {
  const entries = Object.entries(schemas as Record<string, z.ZodType>).map(([type, schema]) => [
    type,
    { type, is: (message: unknown) => schema.safeParse(message).success },
  ]);
  return Object.fromEntries(entries) as MessageKinds<U>;
}
