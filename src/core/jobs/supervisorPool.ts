import type { Logger } from '../logger';
import { SupervisorConnection } from './supervisorConnection';

export interface SupervisorPoolOptions {
  readonly script: string;
  readonly jobsDir: string;
  /** Idle supervisors started ahead of need. */
  readonly warm: number;
  /** Idle supervisors kept at most; one more that finishes a job is told to exit. */
  readonly maxIdle: number;
  readonly idleExitMs: number;
  readonly logger: Logger;
}

/**
 * Supervisors waiting for a job. A job takes the one that ran the previous job (the warmest),
 * waits for one that is just finishing rather than starting another Node, and only then spawns.
 */
export class SupervisorPool {
  private readonly idle: SupervisorConnection[] = [];
  private readonly waiters: ((connection: SupervisorConnection | undefined) => void)[] = [];
  /** Taken for a job and not back yet: each comes back when its job ends. */
  private readonly busy = new Set<SupervisorConnection>();
  private readonly watched = new WeakSet<SupervisorConnection>();
  private spawning = 0;
  private recycling = 0;
  private disposed = false;

  constructor(private readonly options: SupervisorPoolOptions) {
    this.keepWarm();
  }

  async take(): Promise<SupervisorConnection> {
    let ready = this.idle.pop();
    if (!ready && this.recycling > 0) ready = await new Promise<SupervisorConnection | undefined>((resolve) => this.waiters.push(resolve));
    const connection = ready && !ready.closed ? ready : await this.spawn();
    this.watch(connection);
    this.busy.add(connection);
    this.keepWarm();
    return connection;
  }

  /** Takes back the supervisor of a finished job once it says it is free. */
  async recycle(connection: SupervisorConnection): Promise<void> {
    this.busy.delete(connection);
    this.recycling++;
    const idle = await connection.whenIdle();
    this.recycling--;
    if (idle) this.add(connection);
    else connection.dispose();
    // Nobody is finishing any more: whoever still waits spawns its own.
    if (this.recycling === 0) for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }

  dispose(): void {
    this.disposed = true;
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
    for (const connection of this.idle.splice(0)) this.retire(connection);
  }

  private add(connection: SupervisorConnection): void {
    const waiter = this.waiters.shift();
    if (waiter) return waiter(connection);
    if (this.disposed || this.idle.length >= this.options.maxIdle) return this.retire(connection);
    this.watch(connection);
    this.idle.push(connection);
  }

  /** Forgets a supervisor that goes away; one listener per connection, however often it is reused. */
  private watch(connection: SupervisorConnection): void {
    if (this.watched.has(connection)) return;
    this.watched.add(connection);
    connection.onDidClose(() => {
      this.busy.delete(connection);
      const index = this.idle.indexOf(connection);
      if (index >= 0) this.idle.splice(index, 1);
    });
  }

  private retire(connection: SupervisorConnection): void {
    connection.send({ op: 'exit' });
    connection.dispose();
  }

  private spawn(): Promise<SupervisorConnection> {
    return SupervisorConnection.spawn({ script: this.options.script, jobsDir: this.options.jobsDir, idleExitMs: this.options.idleExitMs });
  }

  /**
   * Starts supervisors ahead of need, so that the next job costs a message and a spawn. Never more
   * than `maxIdle` in all: the busy ones come back when their jobs end, and a spare beyond that
   * would be told to exit then, a Node start (about 0.1 s of CPU) per job for nothing.
   */
  private keepWarm(): void {
    while (!this.disposed && this.idle.length + this.spawning < this.options.warm && this.idle.length + this.spawning + this.busy.size < this.options.maxIdle) {
      this.spawning++;
      this.spawn()
        .then(
          (connection) => this.add(connection),
          (error: unknown) => this.options.logger.warn(`[supervisors] could not start a spare supervisor: ${String(error)}`),
        )
        .finally(() => this.spawning--);
    }
  }
}
