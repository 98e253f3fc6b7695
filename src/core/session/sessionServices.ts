import { LifelineError } from '../errors';
import type { ServerMessage } from './queueProtocol';

/**
 * A service of the process that holds the queue, beside the queue itself: it answers requests
 * from this process and, over the queue's socket, from clients (the state store: docs/state-api.md).
 * The body is untrusted: the handler validates it and throws a {@link ServiceError} for a bad one.
 */
export type ServiceHandler = (body: unknown) => Promise<unknown>;

export type SessionServices = Readonly<Record<string, ServiceHandler>>;

/**
 * A reason a handler gives when it cannot answer because this process is not (or no longer) the
 * holder: it applied nothing, so the session keeps the request and sends it to the next holder.
 */
export const NOT_HOLDER = 'notHolder';

/** A service's refusal, carried over the socket as its reason and message. */
export class ServiceError extends LifelineError<string> {
  constructor(reason: string, message: string, options?: { cause?: unknown }) {
    super('ServiceError', reason, message, options);
  }
}

/** The handler of `service`, looked up as an own property only (a body of `__proto__` finds nothing). */
export function serviceHandler(services: SessionServices, service: string): ServiceHandler | undefined {
  return Object.hasOwn(services, service) ? services[service] : undefined;
}

export function replyError(requestId: string, error: unknown): ServerMessage {
  if (error instanceof LifelineError) return { t: 'replyError', requestId, reason: error.reason, message: error.message };
  return { t: 'replyError', requestId, reason: 'failed', message: error instanceof Error ? error.message : String(error) };
}
