/**
 * The shape every panel protocol follows (docs/panels.md), shared by the host and the webviews.
 * A panel's protocol file names its messages in three groups:
 *
 * - commands, webview to host: the host validates each one with its zod schema (the panel's
 *   schemas file) before acting, and refuses and logs one that does not validate;
 * - requests, webview to host with a `requestId`: the host answers each with one reply carrying
 *   the same id, of the type the protocol names for that request;
 * - notifications, host to webview (replies go the same way).
 *
 * No run-time dependency here: the webview bundles import this file, and zod stays out of them.
 */

/** Every message between a panel and its webview: its kind is told by `type`. */
export interface PanelMessage<T extends string = string> {
  readonly type: T;
}

/** A message the webview sends that the host answers with one reply of the same `requestId`. */
export interface PanelRequest<T extends string = string> extends PanelMessage<T> {
  /** Chosen by the webview, increasing: a reply to an older request can be told and dropped. */
  readonly requestId: number;
}

/** The host's answer to a request. */
export interface PanelReply<T extends string = string> extends PanelMessage<T> {
  readonly requestId: number;
}

/** The page has loaded and listens: the host posts nothing before it (the ready handshake). */
export interface ReadyCommand {
  readonly type: 'ready';
}

/** The view state changed (filter, scroll, selection); the host keeps a copy for a new profile. */
export interface StateChangedCommand<S> {
  readonly type: 'stateChanged';
  readonly state: S;
}

/** One kind of message and the guard that recognises it. */
export interface MessageKind<M extends PanelMessage> {
  readonly type: M['type'];
  is(message: unknown): message is M;
}

/** One guard for each kind of a union of messages, keyed by `type`. */
export type MessageKinds<U extends PanelMessage> = { readonly [T in U['type']]: MessageKind<Extract<U, { type: T }>> };

function typeOf(message: unknown): unknown {
  return typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
}

/**
 * The guard of a host-to-webview message. The host is the only sender a webview hears from, so
 * its `type` tells the kind; the host's own messages are checked by the compiler.
 */
export function hostMessage<M extends PanelMessage>(type: M['type']): MessageKind<M> {
  return { type, is: (message: unknown): message is M => typeOf(message) === type };
}

/** A guard for any of several kinds (a webview's whole inbound union). */
export function anyOf<M extends PanelMessage>(...kinds: readonly MessageKind<M>[]): (message: unknown) => message is M {
  return (message: unknown): message is M => kinds.some((kind) => kind.is(message));
}
