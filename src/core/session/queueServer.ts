import { createHash, timingSafeEqual } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { createServer } from 'node:net';
import type { Logger } from '../logger';
import type { Disposable } from '../emitter';
import type { JobQueue } from '../queue/jobQueue';
import { JobError } from '../queue/jobErrors';
import type { QueueSocketLimits, ServerMessage } from './queueProtocol';
import { clientMessageSchema, errorMessage, QUEUE_SOCKET_LIMITS, readMessages, send } from './queueProtocol';
import type { SessionServices } from './sessionServices';
import { replyError, ServiceError, serviceHandler } from './sessionServices';

/**
 * The holder's end of the socket: authenticates clients by token and bridges them to the queue.
 * A connection is told nothing until its hello carries the token (compared in constant time);
 * one that has not said it within `helloTimeoutMs`, sends more than a hello's worth first, or
 * sends a wrong token is closed. Connections and each client's waiting commands are capped, so a
 * process of the same user without the token can neither read the queue's events nor wear the
 * holder down (docs/security.md, the queue's socket).
 */
export class QueueServer {
  /** Every open connection, authenticated or not: the count the connection limit applies to. */
  private readonly sockets = new Set<Socket>();
  /** Connections that said a valid hello: only these hear events. */
  private readonly clients = new Set<Socket>();
  private readonly subscription: Disposable;
  private refusedConnections = 0;

  private constructor(
    private readonly server: Server,
    private readonly queue: JobQueue,
    private readonly token: string,
    private readonly socketPath: string,
    private readonly logger: Logger,
    private readonly limits: QueueSocketLimits,
    private readonly services: SessionServices,
  ) {
    this.subscription = queue.onDidChange((event) => this.broadcast({ t: 'event', event }));
    server.on('connection', (socket) => this.accept(socket));
  }

  static async listen(
    socketPath: string,
    token: string,
    queue: JobQueue,
    logger: Logger,
    limits: Partial<QueueSocketLimits> = {},
    services: SessionServices = {},
  ): Promise<QueueServer> {
    // The path carries our activation id, so a file there can only be a leftover of ours.
    if (process.platform !== 'win32') await fs.rm(socketPath, { force: true });
    const server = createServer();
    const queueServer = new QueueServer(server, queue, token, socketPath, logger, { ...QUEUE_SOCKET_LIMITS, ...limits }, services);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    if (process.platform !== 'win32') await fs.chmod(socketPath, 0o600);
    return queueServer;
  }

  /** Open connections, and of them the authenticated ones: for tests and the health view. */
  get connectionCounts(): { readonly open: number; readonly authenticated: number; readonly refused: number } {
    return { open: this.sockets.size, authenticated: this.clients.size, refused: this.refusedConnections };
  }

  private accept(socket: Socket): void {
    socket.on('error', () => socket.destroy());
    if (this.sockets.size >= this.limits.maxConnections) {
      // Logged once per burst, not once per connection: a flood must not flood the log too.
      if (this.refusedConnections++ % 100 === 0) {
        this.logger.warn(`[queueServer] refused a connection: ${this.limits.maxConnections} are open already`);
      }
      socket.destroy();
      return;
    }
    let authenticated = false;
    let inFlight = 0;
    this.sockets.add(socket);
    const helloTimer = setTimeout(() => {
      this.logger.warn(`[queueServer] closed a connection that said no hello within ${this.limits.helloTimeoutMs} ms`);
      socket.destroy();
    }, this.limits.helloTimeoutMs);
    helloTimer.unref();
    socket.on('close', () => {
      clearTimeout(helloTimer);
      this.sockets.delete(socket);
      this.clients.delete(socket);
    });
    readMessages(
      socket,
      (raw) => {
        const parsed = clientMessageSchema.safeParse(raw);
        if (!parsed.success) return socket.destroy();
        const message = parsed.data;
        if (!authenticated) {
          if (message.t !== 'hello' || !this.tokenMatches(message.token)) {
            this.logger.warn(`[queueServer] refused a client: ${message.t === 'hello' ? 'a wrong token' : 'no hello first'}`);
            return socket.destroy();
          }
          clearTimeout(helloTimer);
          authenticated = true;
          this.clients.add(socket);
          send(socket, { t: 'welcome', flags: this.queue.flags, jobs: this.queue.jobs });
          return;
        }
        if (message.t === 'hello') return;
        if (message.t === 'request') {
          const { requestId, service, body } = message;
          if (inFlight >= this.limits.maxInFlightPerClient) {
            send(
              socket,
              replyError(requestId, new ServiceError('overloaded', `The queue holder has ${inFlight} requests of this client waiting.`)),
            );
            return;
          }
          const handler = serviceHandler(this.services, service);
          if (!handler) {
            send(socket, replyError(requestId, new ServiceError('unknownService', `The queue holder has no service "${service}".`)));
            return;
          }
          inFlight++;
          // A handler that throws synchronously is answered like one that rejects.
          Promise.resolve()
            .then(() => handler(body))
            .then(
              (reply) => send(socket, { t: 'reply', requestId, body: reply }),
              (error: unknown) => send(socket, replyError(requestId, error)),
            )
            .finally(() => inFlight--);
          return;
        }
        const { commandId, command, origin } = message;
        if (inFlight >= this.limits.maxInFlightPerClient) {
          send(
            socket,
            errorMessage(
              commandId,
              new JobError(
                'overloaded',
                `The queue holder has ${inFlight} commands of this client waiting; send this one again once they are answered.`,
              ),
            ),
          );
          return;
        }
        inFlight++;
        this.queue
          .execute({ commandId, command, origin })
          .then(
            (result) => send(socket, { t: 'result', commandId, result }),
            (error: unknown) => send(socket, errorMessage(commandId, error)),
          )
          .finally(() => inFlight--);
      },
      () => (authenticated ? this.limits.maxCommandChars : this.limits.maxHelloChars),
    );
  }

  private tokenMatches(token: string): boolean {
    // Hashed first, so that the comparison takes the same time whatever the given token's length.
    const given = createHash('sha256').update(token).digest();
    const expected = createHash('sha256').update(this.token).digest();
    return timingSafeEqual(given, expected);
  }

  private broadcast(message: ServerMessage): void {
    for (const socket of this.clients) send(socket, message);
  }

  /** Tells every client what a service announces (a state namespace changed). */
  notice(service: string, body: unknown): void {
    this.broadcast({ t: 'notice', service, body });
  }

  /** Tells every client that the holder is handing over, so they take the lease at once. */
  announceRelease(): void {
    this.broadcast({ t: 'releasing' });
  }

  async close(): Promise<void> {
    this.subscription.dispose();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.end();
    // Give the last bytes a moment to leave, then cut whoever still lingers.
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (const socket of this.sockets) socket.destroy();
    await closed;
    if (process.platform !== 'win32') await fs.rm(this.socketPath, { force: true }).catch(() => undefined);
  }
}
