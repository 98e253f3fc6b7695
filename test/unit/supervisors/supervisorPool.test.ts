import * as assert from 'node:assert/strict';
import { Emitter } from '../../../src/core/emitter';
import { nullLogger } from '../../../src/core/logger';
import type { PoolMember } from '../../../src/core/supervisors/supervisorPool';
import { SupervisorPool } from '../../../src/core/supervisors/supervisorPool';

/** A supervisor's connection whose "idle" the test says when. */
class FakeSupervisor implements PoolMember {
  private readonly closeEmitter = new Emitter<void>();
  readonly onDidClose = this.closeEmitter.event;
  closed = false;
  exitRequested = false;
  private becameIdle: ((idle: boolean) => void) | undefined;

  constructor(readonly id: number) {}

  whenIdle(): Promise<boolean> {
    return new Promise((resolve) => (this.becameIdle = resolve));
  }

  /** Its job is over and it says it is free. */
  finish(): void {
    this.becameIdle?.(true);
  }

  send(message: { op: string }): void {
    if (message.op === 'exit') this.exitRequested = true;
  }

  dispose(): void {
    this.closed = true;
    this.closeEmitter.fire();
  }
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('supervisor pool', () => {
  let spawned: FakeSupervisor[];
  let pool: SupervisorPool<FakeSupervisor>;
  beforeEach(() => {
    spawned = [];
    pool = new SupervisorPool<FakeSupervisor>({
      warm: 1,
      maxIdle: 4,
      logger: nullLogger,
      spawn: async () => {
        const supervisor = new FakeSupervisor(spawned.length);
        spawned.push(supervisor);
        return supervisor;
      },
    });
  });
  afterEach(() => pool.dispose());

  it('starts no spare for a slot whose supervisor is finishing: four slots stay four supervisors, job after job', async () => {
    await settle();
    const running = await Promise.all([pool.take(), pool.take(), pool.take(), pool.take()]);
    await settle();
    assert.equal(spawned.length, 4, 'the warm one and three more, one per slot');
    // Jobs end one after another and the next one starts while another supervisor is still
    // finishing, as in a busy queue: none of that needs a new Node process.
    for (let round = 0; round < 20; round++) {
      const done = running.shift() as FakeSupervisor;
      const back = pool.recycle(done);
      done.finish();
      await back;
      const finishing = running.shift() as FakeSupervisor;
      const stillFinishing = pool.recycle(finishing);
      running.push(await pool.take());
      await settle();
      finishing.finish();
      await stillFinishing;
      running.push(await pool.take());
      await settle();
    }
    assert.equal(spawned.length, 4, `${spawned.length} supervisors were started for four slots`);
    assert.equal(spawned.filter((supervisor) => supervisor.exitRequested).length, 0, 'none was told to exit');
  });

  it('lets go of a supervisor that never says it is free after its job, so a job waiting for it starts elsewhere', async () => {
    pool.dispose();
    spawned.length = 0;
    pool = new SupervisorPool<FakeSupervisor>({
      warm: 0,
      maxIdle: 1,
      logger: nullLogger,
      recycleTimeoutMs: 20,
      spawn: async () => {
        const supervisor = new FakeSupervisor(spawned.length);
        spawned.push(supervisor);
        return supervisor;
      },
    });
    const hung = await pool.take();
    const back = pool.recycle(hung); // its `idle` never comes (stopped, hung)
    const next = pool.take(); // waits for it, as for any supervisor on its way back
    await back;
    assert.equal(hung.closed, true, 'the hung one is let go');
    const taken = await next;
    assert.notEqual(taken, hung);
    assert.equal(spawned.length, 2);
  });

  it('keeps one spare ahead of need while there is room, and never more than maxIdle in all', async () => {
    await settle();
    assert.equal(spawned.length, 1, 'one spare at the start');
    const first = await pool.take();
    await settle();
    assert.equal(spawned.length, 2, 'a new spare once the first is taken');
    const more = [await pool.take(), await pool.take(), await pool.take()];
    await settle();
    assert.equal(spawned.length, 4, 'no spare beyond maxIdle: four are busy');
    for (const supervisor of [first, ...more]) {
      const back = pool.recycle(supervisor);
      supervisor.finish();
      await back;
    }
    assert.equal(spawned.filter((supervisor) => supervisor.exitRequested).length, 0, 'four idle fit in maxIdle');
  });
});
