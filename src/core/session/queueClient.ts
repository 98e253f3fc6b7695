import type { Socket } from 'node:net';
import { connect } from 'node:net';
import { Emitter } from '../emitter';
import type { JobErrorReason } from '../queue/jobErrors';
import { JobError } from '../queue/jobErrors';
import type { CommandResult, Job, QueueFlags } from '../queue/jobModel';
import type { QueueEvent } from '../queue/jobQueue';
import type { ClientMessage, ServerMessage } from './queueProtocol';
import { QUEUE_SOCKET_LIMITS, readMessages, send } from './queueProtocol';
import { ServiceError } from './sessionServices';

export type CommandOutcome = { readonly ok: true; readonly result: CommandResult } | { readonly ok: false; readonly error: JobError };
export type ReplyOutcome = { readonly ok: true; readonly body: unknown } | { readonly ok: false; readonly error: ServiceError };

/**
 * A client's connection to the holder: a mirror of the queue kept current by the holder's events,
 * and a pipe for commands. Which commands still wait for an answer is the session's business, so
 * that it can send them again to whoever holds the lease next.
 */
export class QueueClient {
  readonly jobs = new Map<string, Job>();
  flags: QueueFlags;
  private readonly eventEmitter = new Emitter<QueueEvent>();
  readonly onDidChange = this.eventEmitter.event;
  private readonly outcomeEmitter = new Emitter<{ commandId: string; outcome: CommandOutcome }>();
  readonly onDidAnswer = this.outcomeEmitter.event;
  private readonly closeEmitter = new Emitter<{ releasing: boolean }>();
  /** The connection ended; `releasing` when the holder announced a handover first. */
  readonly onDidClose = this.closeEmitter.event;
  private readonly replyEmitter = new Emitter<{ requestId: string; outcome: ReplyOutcome }>();
  /** A service's answer to a request (see {@link request}). */
  readonly onDidReply = this.replyEmitter.event;
  private readonly noticeEmitter = new Emitter<{ service: string; body: unknown }>();
  /** A service's announcement to every client. */
  readonly onDidNotice = this.noticeEmitter.event;
  private releasing = false;
  /** Commands and requests written and not answered yet; the holder answers more than its limit `overloaded`. */
  private readonly inFlight = new Set<string>();
  /** Commands and requests waiting for room in the window, in order. */
  private readonly backlog: { id: string; message: ClientMessage }[] = [];

  private constructor(
    private readonly socket: Socket,
    /** The token this client authenticated with: tells which lease it belongs to. */
    readonly token: string,
    welcome: Extract<ServerMessage, { t: 'welcome' }>,
  ) {
    this.flags = welcome.flags;
    for (const job of welcome.jobs) this.jobs.set(job.id, job);
  }

  /** Connects and authenticates; rejects if the holder is not listening (yet) or refuses the token. */
  static connect(socketPath: string, token: string, timeoutMs = 2000): Promise<QueueClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(socketPath);
      let client: QueueClient | undefined;
      const fail = (error: unknown): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(
          new JobError(
            'notConnected',
            `Could not reach the queue holder at ${socketPath}: ${error instanceof Error ? error.message : String(error)}`,
          ),
        );
      };
      const timer = setTimeout(() => fail(new Error('no welcome in time')), timeoutMs);
      socket.once('error', fail);
      socket.once('close', () => {
        if (client) client.closed();
        else fail(new Error('closed before the welcome'));
      });
      socket.once('connect', () => send(socket, { t: 'hello', token }));
      readMessages(socket, (raw) => {
        const message = raw as ServerMessage;
        if (!client) {
          if (message.t !== 'welcome') return fail(new Error('unexpected first message'));
          clearTimeout(timer);
          socket.off('error', fail);
          socket.on('error', () => socket.destroy());
          client = new QueueClient(socket, token, message);
          resolve(client);
          return;
        }
        client.receive(message);
      });
    });
  }

  private receive(message: ServerMessage): void {
    switch (message.t) {
      case 'event': {
        const event = message.event;
        if (event.type === 'jobChanged') this.jobs.set(event.job.id, event.job);
        else if (event.type === 'jobsRemoved') for (const id of event.ids) this.jobs.delete(id);
        else if (event.type === 'flagsChanged') this.flags = event.flags;
        this.eventEmitter.fire(event);
        break;
      }
      case 'result':
        this.settled(message.commandId);
        this.outcomeEmitter.fire({ commandId: message.commandId, outcome: { ok: true, result: message.result } });
        break;
      case 'error':
        this.settled(message.commandId);
        this.outcomeEmitter.fire({
          commandId: message.commandId,
          outcome: { ok: false, error: new JobError(message.reason as JobErrorReason, message.message) },
        });
        break;
      case 'releasing':
        this.releasing = true;
        break;
      case 'reply':
        this.settled(message.requestId);
        this.replyEmitter.fire({ requestId: message.requestId, outcome: { ok: true, body: message.body } });
        break;
      case 'replyError':
        this.settled(message.requestId);
        this.replyEmitter.fire({
          requestId: message.requestId,
          outcome: { ok: false, error: new ServiceError(String(message.reason), String(message.message)) },
        });
        break;
      case 'notice':
        this.noticeEmitter.fire({ service: message.service, body: message.body });
        break;
      case 'welcome':
        break;
    }
  }

  private closed(): void {
    this.closeEmitter.fire({ releasing: this.releasing });
  }

  /**
   * Sends a command, or keeps it until fewer than the holder's per-client limit are unanswered:
   * the holder refuses more rather than queue them for an unknown peer (docs/security.md, the queue's socket).
   */
  send(commandId: string, command: unknown, origin?: unknown): void {
    this.write(commandId, { t: 'command', commandId, command, ...(origin !== undefined ? { origin } : {}) });
  }

  /** Sends a request to a service of the holder, within the same window as commands. */
  request(requestId: string, service: string, body: unknown): void {
    this.write(requestId, { t: 'request', requestId, service, body });
  }

  private write(id: string, message: ClientMessage): void {
    if (this.inFlight.size >= QUEUE_SOCKET_LIMITS.maxInFlightPerClient) {
      this.backlog.push({ id, message });
      return;
    }
    this.inFlight.add(id);
    send(this.socket, message);
  }

  private settled(id: string): void {
    if (!this.inFlight.delete(id)) return;
    const next = this.backlog.shift();
    if (next) this.write(next.id, next.message);
  }

  dispose(): void {
    this.eventEmitter.dispose();
    this.outcomeEmitter.dispose();
    this.closeEmitter.dispose();
    this.replyEmitter.dispose();
    this.noticeEmitter.dispose();
    this.socket.destroy();
  }
}
