import type { Logger } from '../logger';
import type { SupervisorConnection } from './supervisorConnection';

/** What the pool uses of a supervisor's connection. */
export type PoolMember = Pick<SupervisorConnection, 'closed' | 'onDidClose' | 'whenIdle' | 'send' | 'dispose'>;

export interface SupervisorPoolOptions<C extends PoolMember> {
  /** Idle supervisors started ahead of need. */
  readonly warm: number;
  /** Idle supervisors kept at most; one more that finishes a job is told to exit. */
  readonly maxIdle: number;
  readonly logger: Logger;
  /** Starts a supervisor and connects to it. */
  readonly spawn: () => Promise<C>;
  /**
   * How long a supervisor whose job's exit is on record may take to say it is free; one that
   * does not (stopped, hung) is let go, so no job waits for it. @default 5000
   */
  readonly recycleTimeoutMs?: number;
}

/**
 * Supervisors waiting for a job. A job takes the one that ran the previous job (the warmest),
 * waits for one that is just finishing rather than starting another Node, and only then spawns.
 */
export class SupervisorPool<C extends PoolMember = SupervisorConnection> {
  private readonly idle: C[] = [];
  private readonly waiters: ((connection: C | undefined) => void)[] = [];
  /** Taken for a job and not back yet: each comes back when its job ends. */
  private readonly busy = new Set<C>();
  private readonly watched = new WeakSet<C>();
  private spawning = 0;
  /** take() calls not answered yet: each will hold a supervisor. */
  private taking = 0;
  private recycling = 0;
  private disposed = false;

  constructor(private readonly options: SupervisorPoolOptions<C>) {
    this.keepWarm();
  }

  async take(): Promise<C> {
    if (this.disposed) throw new Error('the supervisor pool is closed');
    this.taking++;
    let connection: C;
    try {
      let ready = this.idle.pop();
      // One on its way (back from a job, or a spare starting) is claimed rather than another Node started.
      if (!ready && this.waiters.length < this.spawning + this.recycling) {
        ready = await new Promise<C | undefined>((resolve) => this.waiters.push(resolve));
      }
      if (!ready && this.disposed) throw new Error('the supervisor pool is closed');
      connection = ready && !ready.closed ? ready : await this.spawn();
    } finally {
      this.taking--;
    }
    this.watch(connection);
    this.busy.add(connection);
    this.keepWarm();
    return connection;
  }

  /** Takes back the supervisor of a finished job once it says it is free. */
  async recycle(connection: C): Promise<void> {
    this.busy.delete(connection);
    this.recycling++;
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), this.options.recycleTimeoutMs ?? 5000);
      timer.unref();
    });
    const idle = await Promise.race([connection.whenIdle(), gaveUp]);
    clearTimeout(timer);
    this.recycling--;
    if (idle) this.add(connection);
    else {
      // It finishes its own work and exits once no host is connected and it has no job.
      if (!connection.closed) this.options.logger.warn('[supervisors] a supervisor did not say it was free after its job; letting it go');
      connection.dispose();
    }
    this.releaseUnclaimed();
  }

  /** Waiters beyond the supervisors still on their way start their own. */
  private releaseUnclaimed(): void {
    while (this.waiters.length > this.spawning + this.recycling) this.waiters.pop()?.(undefined);
  }

  dispose(): void {
    this.disposed = true;
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
    for (const connection of this.idle.splice(0)) this.retire(connection);
  }

  private add(connection: C): void {
    const waiter = this.waiters.shift();
    if (waiter) return waiter(connection);
    if (this.disposed || this.idle.length >= this.options.maxIdle) return this.retire(connection);
    this.watch(connection);
    this.idle.push(connection);
  }

  /** Forgets a supervisor that goes away; one listener per connection, however often it is reused. */
  private watch(connection: C): void {
    if (this.watched.has(connection)) return;
    this.watched.add(connection);
    connection.onDidClose(() => {
      this.busy.delete(connection);
      const index = this.idle.indexOf(connection);
      if (index >= 0) this.idle.splice(index, 1);
    });
  }

  private retire(connection: C): void {
    connection.send({ op: 'exit' });
    connection.dispose();
  }

  private spawn(): Promise<C> {
    return this.options.spawn();
  }

  /**
   * Starts supervisors ahead of need, so that the next job costs a message and a spawn. Never more
   * than `maxIdle` in all: the busy ones come back when their jobs end, and a spare beyond that
   * would be told to exit then, a Node start (about 0.1 s of CPU) per job for nothing.
   */
  private keepWarm(): void {
    // One that is finishing a job is as good as idle: it is free in a moment, and a spare started
    // for it now would be one too many then, a Node start per batch of jobs for nothing.
    const ready = (): number => this.idle.length + this.spawning + this.recycling;
    while (!this.disposed && ready() < this.options.warm && ready() + this.busy.size + this.taking < this.options.maxIdle) {
      this.spawning++;
      this.spawn().then(
        (connection) => {
          this.spawning--;
          this.add(connection);
        },
        (error: unknown) => {
          this.spawning--;
          this.options.logger.warn(`[supervisors] could not start a spare supervisor: ${String(error)}`);
          this.releaseUnclaimed();
        },
      );
    }
  }
}
