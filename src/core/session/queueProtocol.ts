import type { Socket } from 'node:net';
import { z } from 'zod';
import type { JobErrorReason } from '../queue/jobErrors';
import { JobError } from '../queue/jobErrors';
import type { CommandResult, Job, QueueFlags } from '../queue/jobModel';
import type { QueueEvent } from '../queue/jobQueue';
import { splitLines } from '../lineSplitter';

/**
 * The holder's socket protocol: newline-delimited JSON. A client opens with `hello` and the token
 * from the lease, gets `welcome` with the whole queue, then `event`s; each `command` it sends is
 * answered by exactly one `result` with the same command id. `releasing` tells clients that the
 * holder is handing over, so they take the lease without waiting for a timeout.
 */
export type ClientMessage =
  | { readonly t: 'hello'; readonly token: string }
  | { readonly t: 'command'; readonly commandId: string; readonly command: unknown; readonly origin?: unknown }
  /** A request to a service of the holder (`state`: docs/state-api.md); answered by `reply` or `replyError`. */
  | { readonly t: 'request'; readonly requestId: string; readonly service: string; readonly body: unknown };

export type ServerMessage =
  | { readonly t: 'welcome'; readonly flags: QueueFlags; readonly jobs: readonly Job[] }
  | { readonly t: 'event'; readonly event: QueueEvent }
  | { readonly t: 'result'; readonly commandId: string; readonly result: CommandResult }
  | { readonly t: 'error'; readonly commandId: string; readonly reason: JobErrorReason; readonly message: string }
  | { readonly t: 'releasing' }
  | { readonly t: 'reply'; readonly requestId: string; readonly body: unknown }
  | { readonly t: 'replyError'; readonly requestId: string; readonly reason: string; readonly message: string }
  /** A service's announcement to every client (a state namespace changed). */
  | { readonly t: 'notice'; readonly service: string; readonly body: unknown };

export const clientMessageSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('hello'), token: z.string() }),
  // `origin` (who asked, for the audit log) is validated by the queue with the command.
  z.object({ t: z.literal('command'), commandId: z.string().min(8).max(100), command: z.unknown(), origin: z.unknown().optional() }),
  // The body is the service's to validate: a hostile one gets a typed `replyError`, not a closed socket.
  z.object({ t: z.literal('request'), requestId: z.string().min(8).max(100), service: z.string().min(1).max(64), body: z.unknown() }),
]);

/** Messages from the holder above this size end the connection: the welcome carries the whole queue. */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/**
 * Limits of the holder's socket (docs/security.md). Before its hello a connection may send only
 * a hello line; after it, one command line at a time up to `maxCommandChars`.
 */
export const QUEUE_SOCKET_LIMITS = {
  /** A connection that has not said a valid hello by then is closed. */
  helloTimeoutMs: 2000,
  /** A hello is a token and a few bytes of JSON. */
  maxHelloChars: 4 * 1024,
  /** An enqueue with a long pipeline and its environment fits many times over. */
  maxCommandChars: 8 * 1024 * 1024,
  /** Connections at once, authenticated or not; more are closed at once. */
  maxConnections: 64,
  /** Commands of one client waiting for their answers; more are answered `overloaded`. */
  maxInFlightPerClient: 64,
} as const;

export type QueueSocketLimits = { -readonly [K in keyof typeof QUEUE_SOCKET_LIMITS]: number };

/**
 * Calls `onMessage` with each parsed line of `socket`; a malformed or oversized one destroys it.
 * `maxLineChars` is asked for each chunk, so it can grow once the peer authenticated.
 */
export function readMessages(
  socket: Socket,
  onMessage: (message: unknown) => void,
  maxLineChars: number | (() => number) = MAX_MESSAGE_BYTES,
): void {
  socket.setEncoding('utf8');
  socket.on(
    'data',
    splitLines(
      (line) => {
        let message: unknown;
        try {
          message = JSON.parse(line);
        } catch {
          socket.destroy();
          return false;
        }
        onMessage(message);
        return !socket.destroyed;
      },
      { maxLineChars, onOverflow: () => socket.destroy() },
    ),
  );
}

export function send(socket: Socket, message: ClientMessage | ServerMessage): void {
  if (!socket.destroyed && socket.writable) socket.write(`${JSON.stringify(message)}\n`);
}

export function errorMessage(commandId: string, error: unknown): ServerMessage {
  if (JobError.is(error)) return { t: 'error', commandId, reason: error.reason, message: error.message };
  return { t: 'error', commandId, reason: 'storageFailed', message: error instanceof Error ? error.message : String(error) };
}
