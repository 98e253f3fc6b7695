import { timingSafeEqual } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { createServer } from 'node:net';
import type { Logger } from '../logger';
import type { Disposable } from './emitter';
import type { JobQueue } from './jobQueue';
import type { ServerMessage } from './queueProtocol';
import { clientMessageSchema, errorMessage, readMessages, send } from './queueProtocol';

/** The holder's end of the socket: authenticates clients by token and bridges them to the queue. */
export class QueueServer {
  private readonly sockets = new Set<Socket>();
  private readonly subscription: Disposable;

  private constructor(
    private readonly server: Server,
    private readonly queue: JobQueue,
    private readonly token: string,
    private readonly socketPath: string,
    private readonly logger: Logger,
  ) {
    this.subscription = queue.onDidChange((event) => this.broadcast({ t: 'event', event }));
    server.on('connection', (socket) => this.accept(socket));
  }

  static async listen(socketPath: string, token: string, queue: JobQueue, logger: Logger): Promise<QueueServer> {
    // The path carries our activation id, so a file there can only be a leftover of ours.
    if (process.platform !== 'win32') await fs.rm(socketPath, { force: true });
    const server = createServer();
    const queueServer = new QueueServer(server, queue, token, socketPath, logger);
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

  private accept(socket: Socket): void {
    let authenticated = false;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    readMessages(socket, (raw) => {
      const parsed = clientMessageSchema.safeParse(raw);
      if (!parsed.success) return socket.destroy();
      const message = parsed.data;
      if (message.t === 'hello') {
        if (!this.tokenMatches(message.token)) {
          this.logger.warn('[queueServer] refused a client with a wrong token');
          return socket.destroy();
        }
        authenticated = true;
        send(socket, { t: 'welcome', flags: this.queue.flags, jobs: this.queue.jobs });
        return;
      }
      if (!authenticated) return socket.destroy();
      const { commandId, command } = message;
      this.queue.execute({ commandId, command }).then(
        (result) => send(socket, { t: 'result', commandId, result }),
        (error: unknown) => send(socket, errorMessage(commandId, error)),
      );
    });
  }

  private tokenMatches(token: string): boolean {
    const given = Buffer.from(token);
    const expected = Buffer.from(this.token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private broadcast(message: ServerMessage): void {
    for (const socket of this.sockets) send(socket, message);
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
