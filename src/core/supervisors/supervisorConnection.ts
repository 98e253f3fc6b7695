import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import type { Socket } from 'node:net';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Emitter } from '../emitter';
import { JobError } from '../queue/jobErrors';
import { splitLines } from '../lineSplitter';
import type { Challenge } from '../../shared/supervisor/handshake';
import { challengeSchema, HANDSHAKE_TIMEOUT_MS, MAX_HANDSHAKE_LINE_CHARS } from '../../shared/supervisor/handshake';
import { handshakeProof, newNonce, proofMatches } from '../../shared/supervisor/node/handshakeProof';
import type { HostMessage, RunMessage, SupervisorMessage } from '../../shared/supervisor/supervisorWire';
import { SUPERVISOR_PROTOCOL_VERSION, supervisorMessageSchema } from '../../shared/supervisor/supervisorWire';
import { SEPARATE_SCOPE_ARGS, SEPARATE_SCOPE_COMMAND, separateScopeAvailable } from './separateScope';
import { loadSupervisorSecret } from './supervisorAuth';
import { lineReader, supervisorSocketPath } from './supervisorProtocol';

export interface SpawnSupervisorOptions {
  /** The supervisor's entry script (dist/supervisor.js). */
  readonly script: string;
  /** Holds job journals and logs, and the supervisors' own stderr (supervisors.log). */
  readonly jobsDir: string;
  readonly idleExitMs: number;
  /** @default process.execPath, the host's own runtime */
  readonly execPath?: string;
  /** The jobs folder's handshake secret. @default loadSupervisorSecret(jobsDir) */
  readonly secret?: Buffer;
  /**
   * Start it in its own systemd user scope (`systemd-run --user --scope`), outside VS Code's
   * server's control group, so that stopping that service does not kill it (separateScope.ts).
   * Where that does not work it starts as usual. @default false
   */
  readonly separateScope?: boolean;
}

export interface ConnectSupervisorOptions {
  /** The jobs folder's handshake secret: a supervisor that cannot prove it is not trusted. */
  readonly secret: Buffer;
  readonly retryForMs?: number;
  readonly gaveUp?: () => boolean;
}

type Hello = Extract<SupervisorMessage, { ev: 'hello' }>;

/** The host's end of one supervisor's socket. Disposing it never stops the supervisor's job. */
export class SupervisorConnection {
  private readonly messageEmitter = new Emitter<SupervisorMessage>();
  readonly onMessage = this.messageEmitter.event;
  private readonly closeEmitter = new Emitter<void>();
  readonly onDidClose = this.closeEmitter.event;
  private closedValue = false;
  private idleValue: boolean;

  private constructor(
    private readonly socket: Socket,
    readonly socketPath: string,
    readonly hello: Hello,
  ) {
    this.idleValue = hello.job === null;
    socket.on(
      'data',
      lineReader(supervisorMessageSchema, (message) => {
        if (message.ev === 'idle') this.idleValue = true;
        this.messageEmitter.fire(message);
      }),
    );
    socket.on('close', () => {
      this.closedValue = true;
      this.closeEmitter.fire();
    });
  }

  get closed(): boolean {
    return this.closedValue;
  }

  /**
   * Resolves true once the supervisor has no job (a host can read a job's exit from the journal a
   * moment before the supervisor is free), false if it goes away first.
   */
  whenIdle(): Promise<boolean> {
    if (this.closedValue) return Promise.resolve(false);
    if (this.idleValue) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (idle: boolean): void => {
        message.dispose();
        closed.dispose();
        resolve(idle);
      };
      const message = this.onMessage((reply) => reply.ev === 'idle' && done(true));
      const closed = this.onDidClose(() => done(false));
    });
  }

  /**
   * Starts a detached supervisor in its own session with the host's runtime, so that it outlives
   * the extension host, and connects to it once it listens.
   */
  static async spawn(options: SpawnSupervisorOptions): Promise<SupervisorConnection> {
    mkdirSync(options.jobsDir, { recursive: true, mode: 0o700 });
    const secret = options.secret ?? loadSupervisorSecret(options.jobsDir);
    if (options.separateScope && (await separateScopeAvailable())) {
      try {
        return await SupervisorConnection.spawnWith(options, secret, [SEPARATE_SCOPE_COMMAND, ...SEPARATE_SCOPE_ARGS]);
      } catch (error) {
        // systemd-run refused after the probe said yes (the user manager went away): start it as usual.
        if (JobError.is(error, 'untrustedSupervisor')) throw error;
      }
    }
    return SupervisorConnection.spawnWith(options, secret, []);
  }

  /** Spawns the supervisor, behind `prefix` (a command that runs it, systemd-run) when there is one, and connects. */
  private static async spawnWith(
    options: SpawnSupervisorOptions,
    secret: Buffer,
    prefix: readonly string[],
  ): Promise<SupervisorConnection> {
    const socketPath = supervisorSocketPath(options.jobsDir, randomUUID().replace(/-/g, ''));
    const errors = openSync(join(options.jobsDir, 'supervisors.log'), 'a', 0o600);
    let exited = false;
    try {
      const runtime = options.execPath ?? process.execPath;
      const args = [options.script, '--socket', socketPath, '--idle-exit-ms', String(options.idleExitMs)];
      const child = spawn(prefix[0] ?? runtime, prefix.length > 0 ? [...prefix.slice(1), runtime, ...args] : args, {
        detached: true,
        // The secret goes down stdin, which the supervisor reads to its end before it listens: not
        // on the command line (ps shows it) nor in the environment (stage processes inherit that).
        stdio: ['pipe', errors, errors],
        // Desktop VS Code's runtime is Electron; this makes it behave as plain Node.
        env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
        windowsHide: true,
      });
      child.once('error', () => (exited = true));
      child.once('exit', () => (exited = true));
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(`${secret.toString('hex')}\n`);
      child.unref();
    } finally {
      closeSync(errors);
    }
    return SupervisorConnection.connect(socketPath, { secret, retryForMs: 5000, gaveUp: () => exited });
  }

  /** Connects and runs the handshake; retries while the supervisor may still be starting. */
  static async connect(socketPath: string, options: ConnectSupervisorOptions): Promise<SupervisorConnection> {
    const deadline = Date.now() + (options.retryForMs ?? 0);
    for (;;) {
      try {
        return await SupervisorConnection.connectOnce(socketPath, options.secret);
      } catch (error) {
        // One that answered and failed the handshake is not asked again: it will not learn the secret.
        if (JobError.is(error, 'untrustedSupervisor') || Date.now() >= deadline || options.gaveUp?.()) {
          throw new JobError(
            JobError.is(error, 'untrustedSupervisor') ? 'untrustedSupervisor' : 'notConnected',
            `No trusted supervisor answers at ${socketPath}: ${error instanceof Error ? error.message : String(error)}`,
            { cause: error },
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  }

  /**
   * One connection and the handshake of src/shared/supervisor/handshake.ts: the supervisor must
   * prove the secret before this host proves it back and hears which job it owns.
   */
  private static connectOnce(socketPath: string, secret: Buffer): Promise<SupervisorConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(socketPath);
      const hostNonce = newNonce();
      let challenge: Challenge | undefined;
      const timer = setTimeout(() => fail(new Error('no handshake in time')), HANDSHAKE_TIMEOUT_MS);
      const fail = (error: Error): false => {
        clearTimeout(timer);
        socket.destroy();
        reject(error);
        return false;
      };
      const untrusted = (why: string): false => fail(new JobError('untrustedSupervisor', why));
      socket.once('error', fail);
      socket.once('connect', () =>
        socket.write(`${JSON.stringify({ op: 'hello', protocol: SUPERVISOR_PROTOCOL_VERSION, nonce: hostNonce })}\n`),
      );
      const read = splitLines(
        (line) => {
          let raw: unknown;
          try {
            raw = JSON.parse(line);
          } catch {
            return untrusted('it sent something that is not JSON');
          }
          if (!challenge) {
            const parsed = challengeSchema.safeParse(raw);
            if (!parsed.success) {
              const hello = supervisorMessageSchema.safeParse(raw);
              // A supervisor of an earlier build answers the hello at once, unproven.
              return untrusted(
                hello.success && hello.data.ev === 'hello'
                  ? `it speaks protocol ${hello.data.protocol} and cannot prove the secret (a supervisor of an earlier version?)`
                  : 'it did not answer the hello with a challenge',
              );
            }
            if (parsed.data.protocol !== SUPERVISOR_PROTOCOL_VERSION) {
              return untrusted(`protocol ${parsed.data.protocol}, expected ${SUPERVISOR_PROTOCOL_VERSION}`);
            }
            if (!proofMatches(secret, 'supervisor', hostNonce, parsed.data.nonce, parsed.data.proof)) {
              return untrusted('it could not prove it knows the secret');
            }
            challenge = parsed.data;
            socket.write(`${JSON.stringify({ op: 'auth', proof: handshakeProof(secret, 'host', hostNonce, challenge.nonce) })}\n`);
            return true;
          }
          const parsed = supervisorMessageSchema.safeParse(raw);
          if (!parsed.success || parsed.data.ev !== 'hello') return untrusted('it did not say hello after the handshake');
          const message = parsed.data;
          clearTimeout(timer);
          socket.off('data', read);
          socket.off('error', fail);
          socket.on('error', () => undefined);
          if (message.protocol !== SUPERVISOR_PROTOCOL_VERSION) {
            return fail(new Error(`protocol ${message.protocol}, expected ${SUPERVISOR_PROTOCOL_VERSION}`));
          }
          resolve(new SupervisorConnection(socket, socketPath, message));
          return false;
        },
        { maxLineChars: MAX_HANDSHAKE_LINE_CHARS, onOverflow: () => untrusted('it sent an oversized line during the handshake') },
      );
      socket.on('data', read);
    });
  }

  send(message: HostMessage): void {
    if (!this.closedValue && !this.socket.destroyed) this.socket.write(`${JSON.stringify(message)}\n`);
  }

  /**
   * Hands a job over; resolves once the supervisor recorded its start. Rejects when it was busy,
   * could not create the journal, or went away.
   */
  run(message: RunMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      const answer = this.onMessage((reply) => {
        if (reply.ev === 'accepted' && reply.jobId === message.request.jobId) done(undefined);
        else if (reply.ev === 'busy') done(`the supervisor is busy with ${reply.jobId}`);
        else if (reply.ev === 'refused' && reply.jobId === message.request.jobId) done(reply.error);
      });
      const closed = this.onDidClose(() => done('the supervisor went away'));
      const done = (error: string | undefined): void => {
        answer.dispose();
        closed.dispose();
        if (error === undefined) resolve();
        else reject(new JobError('notConnected', error));
      };
      if (this.closedValue) return done('the supervisor went away');
      // Busy from now on, not from `accepted`: the job's exit can be read from its journal before
      // that reply arrives, and the supervisor is free only once it says `idle`.
      this.idleValue = false;
      this.send(message);
    });
  }

  dispose(): void {
    this.socket.destroy();
    this.messageEmitter.dispose();
    this.closeEmitter.dispose();
  }
}
