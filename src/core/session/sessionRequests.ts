import { randomUUID } from 'node:crypto';
import { Emitter } from '../emitter';
import type { QueueClient } from './queueClient';
import type { SessionServices } from './sessionServices';
import { NOT_HOLDER, ServiceError, serviceHandler } from './sessionServices';

interface PendingRequest {
  readonly service: string;
  readonly body: unknown;
  readonly resolve: (body: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** Where a request goes now: this process's own services (it holds the queue), the holder's socket, or nowhere yet. */
export type RequestRoute =
  { readonly kind: 'local'; readonly services: SessionServices } | { readonly kind: 'client'; readonly client: QueueClient } | undefined;

/**
 * A session's requests to the services of whoever holds the queue, and the notices they send.
 * Like a command, a request waits while no one holds the queue and is sent again to the next
 * holder when the one asked stepped down before answering (it said {@link NOT_HOLDER}, or the
 * connection ended): a service's requests must be safe to repeat.
 */
export class SessionRequests {
  private readonly pending = new Map<string, PendingRequest>();
  private readonly noticeEmitter = new Emitter<{ service: string; body: unknown }>();
  readonly onDidNotice = this.noticeEmitter.event;
  private disposed = false;

  constructor(private readonly route: () => RequestRoute) {}

  request(service: string, body: unknown): Promise<unknown> {
    if (this.disposed) return Promise.reject(new ServiceError('disposed', 'The queue session is closed.'));
    const requestId = randomUUID();
    return new Promise((resolve, reject) => {
      this.pending.set(requestId, { service, body, resolve, reject });
      this.dispatch(requestId);
    });
  }

  /** Tells this process's listeners of a notice (its own, or one the holder sent). */
  fireNotice(notice: { service: string; body: unknown }): void {
    this.noticeEmitter.fire(notice);
  }

  /** Sends every waiting request where the route now leads (a new holder, or a new connection). */
  dispatchAll(): void {
    for (const requestId of this.pending.keys()) this.dispatch(requestId);
  }

  private dispatch(requestId: string): void {
    const entry = this.pending.get(requestId);
    const route = this.route();
    if (!entry || !route) return;
    if (route.kind === 'local') {
      const handler = serviceHandler(route.services, entry.service);
      Promise.resolve()
        .then(() => {
          if (!handler) throw new ServiceError('unknownService', `This process has no service "${entry.service}".`);
          return handler(entry.body);
        })
        .then(
          (body) => this.answer(requestId, { ok: true, body }),
          (error: unknown) => this.answer(requestId, { ok: false, error }),
        );
    } else route.client.request(requestId, entry.service, entry.body);
  }

  /** An answer, local or from the holder; a holder that stepped down leaves the request for the next. */
  answer(requestId: string, outcome: { ok: true; body: unknown } | { ok: false; error: unknown }): void {
    const entry = this.pending.get(requestId);
    if (!entry) return;
    if (!outcome.ok && ServiceError.is(outcome.error, NOT_HOLDER) && !this.disposed) return;
    this.pending.delete(requestId);
    if (outcome.ok) entry.resolve(outcome.body);
    else entry.reject(outcome.error);
  }

  dispose(): void {
    this.disposed = true;
    for (const [requestId, entry] of this.pending) {
      this.pending.delete(requestId);
      entry.reject(new ServiceError('disposed', 'The queue session closed before the request was answered.'));
    }
    this.noticeEmitter.dispose();
  }
}
