import { rmSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import type { Server, Socket } from 'node:net';
import { createServer } from 'node:net';
import { splitLines } from '../core/lineSplitter';
import type { Challenge } from '../shared/supervisor/handshake';
import {
  HANDSHAKE_TIMEOUT_MS,
  handshakeAuthSchema,
  handshakeHelloSchema,
  MAX_HANDSHAKE_LINE_CHARS,
  MAX_SUPERVISOR_LINE_CHARS,
} from '../shared/supervisor/handshake';
import { handshakeProof, newNonce, proofMatches } from '../shared/supervisor/node/handshakeProof';
import { identifyProcess } from '../shared/supervisor/node/processIdentity';
import type { HostMessage, RunMessage, SupervisorMessage } from '../shared/supervisor/supervisorWire';
import { hostMessageSchema, SUPERVISOR_PROTOCOL_VERSION } from '../shared/supervisor/supervisorWire';
import { AesGcmCipher } from '../core/storage/aesGcmCipher';
import { JobExecution } from './jobExecution';
import { StageShells } from './stageShell';

/** The supervisor's runtime switch must not leak into jobs, which may start Electron apps. */
function stageBaseEnvironment(): NodeJS.ProcessEnv {
  const { ELECTRON_RUN_AS_NODE: _ignored, ...baseEnv } = process.env;
  return baseEnv;
}

export interface SupervisorOptions {
  readonly socketPath: string;
  /** The jobs folder's handshake secret, read from stdin at start (src/shared/supervisor/handshake.ts). */
  readonly secret: Buffer;
  /** How long it waits with no job and no host before it exits. */
  readonly idleExitMs: number;
}

/**
 * A detached process that owns one job at a time and takes the next one a host sends, so that a
 * job starts for the cost of a message and a spawn, not a Node start. Hosts come and go: it keeps
 * running its job without one, and exits by itself once it has neither a job nor a host.
 */
export class Supervisor {
  private readonly server: Server;
  private readonly hosts = new Set<Socket>();
  private current: JobExecution | undefined;
  private currentJob: { jobId: string; attempt: number; journalPath: string } | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private exitWhenIdle = false;
  private closed = false;
  /** Its own identity and the stages' base environment never change: worked out once, not per job. */
  private readonly identity = identifyProcess(process.pid);
  private readonly baseEnv = stageBaseEnvironment();
  /** A shell waiting for the next stage, so that starting one costs a write and an exec, not a fork of this process. */
  private readonly stageShells = new StageShells(this.baseEnv);

  constructor(private readonly options: SupervisorOptions) {
    this.server = createServer((socket) => this.accept(socket));
  }

  async listen(): Promise<void> {
    if (process.platform !== 'win32') rmSync(this.options.socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.socketPath, () => resolve());
    });
    if (process.platform !== 'win32') await chmod(this.options.socketPath, 0o600);
    this.stageShells.prepare();
    this.armIdleExit();
  }

  /**
   * A connection is a host only once it has proven the secret (src/shared/supervisor/handshake.ts): until then it
   * is sent nothing but the challenge, may send a hello's worth of bytes, does not keep this
   * process alive, and is closed after HANDSHAKE_TIMEOUT_MS. One that fails is closed and logged.
   */
  private accept(socket: Socket): void {
    const nonce = newNonce();
    let hostNonce: string | undefined;
    let authenticated = false;
    const refuse = (why: string): false => {
      process.stderr.write(`lifeline-supervisor ${process.pid}: refused a connection: ${why}\n`);
      socket.destroy();
      return false;
    };
    const timer = setTimeout(() => refuse('no handshake in time'), HANDSHAKE_TIMEOUT_MS);
    timer.unref();
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      if (this.hosts.delete(socket)) this.armIdleExit();
    });
    socket.on(
      'data',
      splitLines(
        (line) => {
          let raw: unknown;
          try {
            raw = JSON.parse(line);
          } catch {
            // Junk from a host that proved itself is dropped, as before; from anyone else it ends the connection.
            return authenticated ? true : refuse('a line that is not JSON');
          }
          if (authenticated) {
            const parsed = hostMessageSchema.safeParse(raw);
            if (parsed.success) this.onMessage(socket, parsed.data);
            return true;
          }
          if (hostNonce === undefined) {
            const hello = handshakeHelloSchema.safeParse(raw);
            if (!hello.success) return refuse('no hello with a nonce first');
            hostNonce = hello.data.nonce;
            this.send(socket, {
              ev: 'challenge',
              protocol: SUPERVISOR_PROTOCOL_VERSION,
              nonce,
              proof: handshakeProof(this.options.secret, 'supervisor', hostNonce, nonce),
            });
            return true;
          }
          const auth = handshakeAuthSchema.safeParse(raw);
          if (!auth.success || !proofMatches(this.options.secret, 'host', hostNonce, nonce, auth.data.proof)) {
            return refuse('the host could not prove it knows the secret');
          }
          authenticated = true;
          clearTimeout(timer);
          this.hosts.add(socket);
          this.clearIdleExit();
          this.send(socket, { ev: 'hello', protocol: SUPERVISOR_PROTOCOL_VERSION, pid: process.pid, job: this.currentJob ?? null });
          return true;
        },
        {
          maxLineChars: () => (authenticated ? MAX_SUPERVISOR_LINE_CHARS : MAX_HANDSHAKE_LINE_CHARS),
          onOverflow: () => refuse('an oversized line'),
        },
      ),
    );
  }

  private send(socket: Socket, message: SupervisorMessage | Challenge): void {
    if (!socket.destroyed) socket.write(`${JSON.stringify(message)}\n`);
  }

  private onMessage(socket: Socket, message: HostMessage): void {
    switch (message.op) {
      case 'hello':
        this.send(socket, { ev: 'hello', protocol: SUPERVISOR_PROTOCOL_VERSION, pid: process.pid, job: this.currentJob ?? null });
        break;
      case 'run':
        if (this.current) {
          this.send(socket, { ev: 'busy', jobId: this.current.jobId });
          return;
        }
        this.startJob(socket, message);
        break;
      case 'kill':
        if (this.current?.jobId === message.jobId) this.current.kill();
        break;
      case 'exit':
        this.exitWhenIdle = true;
        if (!this.current) this.close();
        break;
    }
  }

  private startJob(socket: Socket, message: RunMessage): void {
    const { request } = message;
    let nudging = false;
    let cipher: AesGcmCipher | undefined;
    try {
      // Held in this process's memory only, for this run: never in argv, the environment or a file.
      cipher = message.encryptionKey === undefined ? undefined : new AesGcmCipher(Buffer.from(message.encryptionKey, 'base64'));
    } catch (error) {
      this.send(socket, { ev: 'refused', jobId: request.jobId, error: error instanceof Error ? error.message : String(error) });
      return;
    }
    const execution = new JobExecution({
      request: { ...request, checkpoint: request.checkpoint },
      journalPath: message.journalPath,
      logPath: message.logPath,
      logLimitBytes: message.logLimitBytes,
      ...(cipher ? { cipher } : {}),
      heartbeatMs: message.heartbeatMs,
      socketPath: this.options.socketPath,
      supervisor: this.identity,
      baseEnv: this.baseEnv,
      stageShells: this.stageShells,
      ...(message.stopWithoutHost ? { stopWithoutHost: message.stopWithoutHost } : {}),
      ...(message.killGraceMs !== undefined ? { killGraceMs: message.killGraceMs } : {}),
      // Records that reach the disk together (one write, one sync) need one nudge.
      onWrote: () => {
        if (nudging) return;
        nudging = true;
        queueMicrotask(() => {
          nudging = false;
          for (const host of this.hosts) this.send(host, { ev: 'wrote', jobId: request.jobId });
        });
      },
      onExitRecorded: () => this.release(execution),
    });
    this.current = execution;
    this.currentJob = { jobId: request.jobId, attempt: request.attempt, journalPath: message.journalPath };
    void execution
      .open()
      .then(
        async () => {
          // The first stage starts now; the host hears `accepted` once `started` is on disk. A
          // `started` that cannot be made durable stops the stage and refuses the run.
          const running = execution.run();
          execution.startedDurable.then(
            () => this.send(socket, { ev: 'accepted', jobId: request.jobId, attempt: request.attempt }),
            (error: unknown) => {
              // Refused means nothing runs: the host may start the job elsewhere at once.
              execution.kill({ immediately: true });
              this.send(socket, { ev: 'refused', jobId: request.jobId, error: error instanceof Error ? error.message : String(error) });
            },
          );
          await running;
        },
        (error: unknown) =>
          this.send(socket, { ev: 'refused', jobId: request.jobId, error: error instanceof Error ? error.message : String(error) }),
      )
      .catch(() => undefined)
      .finally(() => this.release(execution));
  }

  /** The supervisor is free for the next job once `execution`'s exit is on record (or it failed). */
  private release(execution: JobExecution): void {
    if (this.current !== execution) return;
    this.current = undefined;
    this.currentJob = undefined;
    for (const host of this.hosts) this.send(host, { ev: 'idle' });
    if (this.exitWhenIdle) return this.close();
    this.armIdleExit();
    // After the messages above are out: readying a shell forks this process.
    setImmediate(() => this.stageShells.prepare());
  }

  private armIdleExit(): void {
    if (this.closed || this.current || this.hosts.size > 0) return;
    this.clearIdleExit();
    this.idleTimer = setTimeout(() => this.close(), this.options.idleExitMs);
  }

  private clearIdleExit(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clearIdleExit();
    this.stageShells.dispose();
    for (const host of this.hosts) host.destroy();
    this.server.close();
    if (process.platform !== 'win32') rmSync(this.options.socketPath, { force: true });
  }
}
