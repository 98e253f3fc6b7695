import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, constants, existsSync, promises as fs, openSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import { cpus } from 'node:os';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DurableQueueLog } from '../src/core/queue/durableQueueLog';
import { JobQueue } from '../src/core/queue/jobQueue';
import type { RunEvent } from '../src/core/queue/jobRunner';
import { SupervisorRunner } from '../src/core/supervisors/supervisorRunner';
import type { BenchContext, BenchFigure, BenchSuite } from './harness';
import { percentile } from './harness';

/**
 * Jobs through the real stack (JobQueue + JobScheduler on a DurableQueueLog, SupervisorRunner with
 * warm detached supervisors running dist/supervisor.js), each against a baseline of bare
 * child_process spawns of the same command measured in the same run, interleaved where it can be.
 * A job's process is seen to run when it writes a line into a FIFO this process reads: the same
 * observation for the real stack and the baseline.
 */

const root = join(__dirname, '..', '..');
const supervisorScript = join(root, 'dist', 'supervisor.js');

/** What dist/supervisor.js bundles from: a bundle older than any of it is rebuilt. */
const supervisorSources = ['src/supervisor', 'src/core', 'src/shared'].map((dir) => join(root, dir));

function newestSourceMs(): number {
  let newest = 0;
  for (const dir of supervisorSources) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir, { recursive: true }) as string[]) {
      if (name.endsWith('.ts')) newest = Math.max(newest, statSync(join(dir, name)).mtimeMs);
    }
  }
  return newest;
}

/** A wait that fails the suite with `what` instead of hanging it when the stack breaks. */
function within<T>(promise: Promise<T>, what: string, ms = 30_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)),
  );
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Finds dist/supervisor.js, building it with `node esbuild.mjs` when it is missing or stale. */
function ensureSupervisorBundle(log: (message: string) => void): void {
  if (existsSync(supervisorScript) && statSync(supervisorScript).mtimeMs >= newestSourceMs()) return;
  log(
    `${existsSync(supervisorScript) ? 'dist/supervisor.js is older than its sources' : 'dist/supervisor.js is missing'}: running node esbuild.mjs`,
  );
  const build = spawnSync(process.execPath, [join(root, 'esbuild.mjs')], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0 || !existsSync(supervisorScript)) {
    throw new Error(
      `The supervisor bundle ${supervisorScript} is missing and \`node esbuild.mjs\` could not build it (exit ${build.status}); build it first.`,
    );
  }
}

/** A FIFO this process reads line by line; a job marks its start by writing a line into it. */
class MarkerFifo {
  private readonly socket: Socket;
  private readonly waiters = new Map<string, (at: number) => void>();
  private readonly seen = new Map<string, number>();
  private buffered = '';

  constructor(readonly path: string) {
    execFileSync('mkfifo', ['-m', '600', path]);
    // Read-write, so that it never reads end-of-file between writers and opening never blocks.
    this.socket = new Socket({ fd: openSync(path, constants.O_RDWR | constants.O_NONBLOCK), readable: true, writable: false });
    this.socket.on('data', (chunk: Buffer) => {
      const at = performance.now();
      this.buffered += chunk.toString('utf8');
      let newline = this.buffered.indexOf('\n');
      while (newline >= 0) {
        const token = this.buffered.slice(0, newline);
        this.buffered = this.buffered.slice(newline + 1);
        const waiter = this.waiters.get(token);
        this.waiters.delete(token);
        if (waiter) waiter(at);
        else this.seen.set(token, at);
        newline = this.buffered.indexOf('\n');
      }
    });
  }

  /** When `token` arrives (or arrived), by performance.now(). */
  when(token: string): Promise<number> {
    const at = this.seen.get(token);
    if (at !== undefined) {
      this.seen.delete(token);
      return Promise.resolve(at);
    }
    return new Promise((resolve) => this.waiters.set(token, resolve));
  }

  dispose(): void {
    this.socket.destroy();
  }
}

/** A bare spawn, as a job's stage is spawned but with nothing else: resolves when it exits. */
function rawSpawn(command: string): { child: ChildProcess; exited: Promise<void> } {
  const child = spawn(command, { shell: true, stdio: 'ignore' });
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', () => resolve());
  });
  return { child, exited };
}

interface Stack {
  readonly queue: JobQueue;
  readonly runner: SupervisorRunner;
  /** Resolves when the job's final state is on disk. */
  finished(jobId: string): Promise<string>;
  dispose(): Promise<void>;
}

async function openStack(directory: string, concurrency: number): Promise<Stack> {
  // The pool as the extension configures it (one spare, up to four idle); idle supervisors left
  // behind by a failed run exit by themselves after idleExitMs.
  const runner = new SupervisorRunner({ jobsDir: join(directory, 'jobs'), supervisorScript, idleExitMs: 5000 });
  const queue = await JobQueue.open({ log: new DurableQueueLog({ directory: join(directory, 'queue') }), runner, baseDir: directory });
  await queue.command({ type: 'setConcurrency', limit: concurrency });
  const waiters = new Map<string, (state: string) => void>();
  const done = new Map<string, string>();
  queue.onDidChange((event) => {
    if (event.type !== 'jobChanged') return;
    const { id, state } = event.job;
    if (state !== 'succeeded' && state !== 'failed' && state !== 'cancelled' && state !== 'interrupted') return;
    const waiter = waiters.get(id);
    waiters.delete(id);
    if (waiter) waiter(state);
    else done.set(id, state);
  });
  // Warm-up: as many jobs at once as there are slots, so that every slot has a supervisor that
  // answers and no timed job pays a Node start.
  await runJobs(queue, (jobId) => finishedOf(jobId), concurrency, 'true');
  function finishedOf(jobId: string): Promise<string> {
    const state = done.get(jobId);
    if (state !== undefined) {
      done.delete(jobId);
      return Promise.resolve(state);
    }
    return new Promise((resolve) => waiters.set(jobId, resolve));
  }
  return {
    queue,
    runner,
    finished: finishedOf,
    async dispose() {
      await queue.dispose();
      await runner.dispose();
    },
  };
}

async function runJobs(queue: JobQueue, finished: (jobId: string) => Promise<string>, count: number, command: string): Promise<void> {
  const jobs = await Promise.all(Array.from({ length: count }, (_, i) => queue.enqueue({ definition: { name: `warm ${i}`, command } })));
  const states = await within(
    Promise.all(jobs.map((job) => finished(job.id))),
    `${count} warm-up jobs (see supervisors.log in the jobs folder)`,
  );
  const failed = states.filter((state) => state !== 'succeeded').length;
  if (failed > 0) throw new Error(`${failed} of ${count} jobs did not succeed (${command}); see supervisors.log in the jobs folder`);
}

/**
 * Enqueue until the job's own process runs, against a bare spawn of the same command, one of each
 * per round. The enqueue goes through the whole real path: command validation, the durable enqueue
 * commit, the scheduler's durable `running` commit, a warm supervisor's journal creation and
 * `started` record, and its spawn of the stage.
 */
async function startOverhead(context: BenchContext): Promise<BenchFigure[]> {
  const rounds = Math.max(20, Math.round(200 * context.scale));
  const directory = join(context.scratchDir, 'start');
  await fs.mkdir(directory, { recursive: true });
  const fifo = new MarkerFifo(join(directory, 'marker.fifo'));
  const stack = await openStack(directory, 1);
  const raw: number[] = [];
  const real: number[] = [];
  try {
    for (let round = -3; round < rounds; round++) {
      // The baseline first in even rounds, second in odd ones, so neither always follows the other.
      const order = round % 2 === 0 ? ['raw', 'real'] : ['real', 'raw'];
      for (const which of order) {
        const token = `${which}-${round}`;
        const command = `echo ${token} > ${fifo.path}`;
        if (which === 'raw') {
          const started = performance.now();
          const { exited } = rawSpawn(command);
          const ran = await within(fifo.when(token), `the spawn ${token} to run`);
          await exited;
          if (round >= 0) raw.push(ran - started);
        } else {
          const started = performance.now();
          const enqueued = stack.queue.enqueue({ definition: { name: token, command } });
          const ran = await within(fifo.when(token), `the job ${token} to run`);
          const state = await within(stack.finished((await enqueued).id), `the job ${token} to finish`);
          if (state !== 'succeeded') throw new Error(`the job ${token} ended ${state}`);
          if (round >= 0) real.push(ran - started);
        }
      }
    }
  } finally {
    await stack.dispose();
    fifo.dispose();
  }
  const rawP50 = percentile(raw, 50);
  const realP50 = percentile(real, 50);
  // A fork copies its parent's page tables: the baseline's cost depends on this process's size.
  const rssMb = process.memoryUsage().rss / 1e6;
  return [
    {
      name: 'jobs.startOverhead.p50Ms',
      value: realP50,
      unit: 'ms',
      note: `enqueue() until the job's process writes to a FIFO; real queue + warm supervisor; p90 ${percentile(real, 90).toFixed(2)} ms, ${rounds} rounds`,
    },
    {
      name: 'jobs.rawSpawn.p50Ms',
      value: rawP50,
      unit: 'ms',
      note: `bare spawn of the same shell command from this process (RSS ${rssMb.toFixed(0)} MB), same FIFO, interleaved; p90 ${percentile(raw, 90).toFixed(2)} ms`,
    },
    {
      name: 'jobs.startOverhead.ratio',
      value: realP50 / rawP50,
      unit: 'ratio',
      target: { max: 1.5 },
      note: 'p50 over p50; task-spooler 2.1, nq 2.3 on this machine kind',
    },
  ];
}

/**
 * CPU time the whole machine has spent busy so far (all cores, every process and the kernel), in
 * ms; undefined where /proc/stat is missing. Clock ticks are USER_HZ, 100 on Linux.
 */
function machineBusyMs(): number | undefined {
  try {
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] =
      readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    return (user + nice + system + irq + softirq) * 10;
  } catch {
    return undefined;
  }
}

/** Runs `work`, adding the machine's busy CPU ms meanwhile to `into.ms` (NaN once unknown). */
async function measuringCpu<T>(into: { ms: number }, work: () => Promise<T>): Promise<T> {
  const before = machineBusyMs();
  const result = await work();
  const after = machineBusyMs();
  into.ms += before === undefined || after === undefined ? Number.NaN : after - before;
  return result;
}

/** `count` bare spawns of `command`, `slots` at a time; resolves with the elapsed ms. */
async function rawPool(count: number, slots: number, command: string): Promise<number> {
  const started = performance.now();
  let next = 0;
  const slot = async (): Promise<void> => {
    while (next < count) {
      next++;
      await rawSpawn(command).exited;
    }
  };
  await Promise.all(Array.from({ length: slots }, slot));
  return performance.now() - started;
}

/**
 * 1,000 trivial jobs at concurrency 4 against a pool of 4 bare spawns, interleaved: in rounds of
 * 100 (the order alternating), each round's jobs enqueued at once and timed from the first enqueue
 * until the last one's success is on disk; load on this shared machine drifts within seconds.
 */
async function throughput(context: BenchContext): Promise<BenchFigure[]> {
  const count = Math.max(100, Math.round(1000 * context.scale));
  const batch = Math.max(50, Math.round(count / 10));
  const rounds = Math.round(count / batch);
  const slots = 4;
  const directory = join(context.scratchDir, 'throughput');
  await fs.mkdir(directory, { recursive: true });
  const stack = await openStack(directory, slots);
  let rawMs = 0;
  let realMs = 0;
  const rawCpu = { ms: 0 };
  const realCpu = { ms: 0 };
  const realBatch = async (round: number): Promise<number> => {
    const started = performance.now();
    const jobs = await Promise.all(
      Array.from({ length: batch }, (_, i) => stack.queue.enqueue({ definition: { name: `t${round}.${i}`, command: 'true' } })),
    );
    const states = await within(Promise.all(jobs.map((job) => stack.finished(job.id))), `${batch} jobs to finish`, 300_000);
    const elapsed = performance.now() - started;
    const failed = states.filter((state) => state !== 'succeeded').length;
    if (failed > 0) throw new Error(`${failed} of ${batch} throughput jobs did not succeed`);
    return elapsed;
  };
  try {
    for (let round = 0; round < rounds; round++) {
      const raw = (): Promise<number> => measuringCpu(rawCpu, () => rawPool(batch, slots, 'true'));
      const real = (): Promise<number> => measuringCpu(realCpu, () => realBatch(round));
      if (round % 2 === 0) {
        rawMs += await raw();
        realMs += await real();
      } else {
        realMs += await real();
        rawMs += await raw();
      }
    }
  } finally {
    await stack.dispose();
  }
  const total = batch * rounds;
  const realRate = (total * 1000) / realMs;
  const rawRate = (total * 1000) / rawMs;
  return [
    {
      name: 'jobs.throughput.perSec',
      value: realRate,
      unit: 'per s',
      note: `${total} \`true\` jobs at concurrency ${slots}, ${rounds} rounds of ${batch} enqueued at once, until the last success is on disk`,
    },
    {
      name: 'jobs.rawSpawnPool.perSec',
      value: rawRate,
      unit: 'per s',
      note: `${total} bare spawns of \`true\`, ${slots} at a time, interleaved round by round`,
    },
    { name: 'jobs.throughput.ratio', value: realRate / rawRate, unit: 'ratio', target: { min: 0.8 }, note: 'task-spooler 0.46' },
    ...(Number.isNaN(realCpu.ms)
      ? []
      : ([
          {
            name: 'jobs.throughput.cpuPerJob.ms',
            value: realCpu.ms / total,
            unit: 'ms',
            note: `busy CPU of the whole machine per job (all cores, kernel included; 10 ms ticks); bare spawns ${(rawCpu.ms / total).toFixed(2)} ms each`,
          },
          {
            name: 'jobs.throughput.cpuVsRaw.ratio',
            value: realCpu.ms / rawCpu.ms,
            unit: 'ratio',
            note: `why the ratio above stays low on ${cpus().length} cores: the work per job, not waiting`,
          },
        ] satisfies BenchFigure[])),
  ];
}

/**
 * A job that echoes `::lifeline checkpoint <token>` for each token this process writes into its
 * input FIFO. Measured from the token's write to the FIFO (the job prints the line at once) until
 * the checkpoint is in the queue's state on disk (the queue's `jobChanged` event, fired after its
 * commit): the supervisor's fdatasync'd journal append, its nudge, the host's journal read, then
 * the queue's own fdatasync'd commit. Also noted: until the host's runner reports it (after the
 * first of those two syncs). The floor is one 1 KB fdatasync'd append, interleaved.
 */
async function checkpointLatency(context: BenchContext): Promise<BenchFigure[]> {
  const samples = Math.max(30, Math.round(300 * context.scale));
  const directory = join(context.scratchDir, 'checkpoint');
  await fs.mkdir(directory, { recursive: true });
  const input = join(directory, 'input.fifo');
  execFileSync('mkfifo', ['-m', '600', input]);
  const inputFd = openSync(input, constants.O_RDWR | constants.O_NONBLOCK);
  const stack = await openStack(directory, 1);
  const floorFile = await fs.open(join(directory, 'floor.bin'), 'w');
  const payload = Buffer.alloc(1024, 7);
  const floor: number[] = [];
  const durable: number[] = [];
  const observed: number[] = [];
  const runnerWaiters = new Map<string, (at: number) => void>();
  const queueWaiters = new Map<string, (at: number) => void>();
  const runnerSub = stack.runner.onDidRun((event: RunEvent) => {
    if (event.type === 'checkpoint') runnerWaiters.get(event.checkpoint)?.(performance.now());
  });
  const queueSub = stack.queue.onDidChange((event) => {
    if (event.type === 'jobChanged' && event.job.checkpoint !== undefined) queueWaiters.get(event.job.checkpoint)?.(performance.now());
  });
  try {
    const job = await stack.queue.enqueue({
      definition: {
        name: 'checkpoints',
        command: `while read token; do [ "$token" = end ] && exit 0; echo "::lifeline checkpoint $token"; done < ${input}`,
      },
    });
    const finished = stack.finished(job.id);
    for (let i = -5; i < samples; i++) {
      let started = performance.now();
      await floorFile.write(payload, 0, payload.length, (i + 5) * payload.length);
      await floorFile.datasync();
      if (i >= 0) floor.push(performance.now() - started);

      const token = `c${i}`;
      const seen = new Promise<number>((resolve) => runnerWaiters.set(token, resolve));
      const onDisk = new Promise<number>((resolve) => queueWaiters.set(token, resolve));
      started = performance.now();
      writeSync(inputFd, `${token}\n`);
      const [seenAt, durableAt] = await within(Promise.all([seen, onDisk]), `checkpoint ${token}`);
      runnerWaiters.delete(token);
      queueWaiters.delete(token);
      if (i >= 0) {
        observed.push(seenAt - started);
        durable.push(durableAt - started);
      }
    }
    writeSync(inputFd, 'end\n');
    const state = await within(finished, 'the checkpoint job to finish');
    if (state !== 'succeeded') throw new Error(`the checkpoint job ended ${state}`);
  } finally {
    runnerSub.dispose();
    queueSub.dispose();
    await floorFile.close();
    closeSync(inputFd);
    await stack.dispose();
  }
  const floorP99 = percentile(floor, 99);
  const durableP99 = percentile(durable, 99);
  return [
    {
      name: 'jobs.checkpoint.p99Ms',
      value: durableP99,
      unit: 'ms',
      note: `line written → in the queue on disk (2 fdatasyncs: job journal, queue); p50 ${percentile(durable, 50).toFixed(2)} ms; host runner saw it at p50 ${percentile(observed, 50).toFixed(2)}, p99 ${percentile(observed, 99).toFixed(2)} ms; ${samples} samples`,
    },
    {
      name: 'jobs.checkpoint.fsyncFloor.p99Ms',
      value: floorP99,
      unit: 'ms',
      note: `1 KB fdatasync'd append, interleaved; p50 ${percentile(floor, 50).toFixed(3)} ms`,
    },
    {
      name: 'jobs.checkpoint.vsFloor.ratio',
      value: durableP99 / floorP99,
      unit: 'ratio',
      note: 'p99 over p99; the path holds two syncs in a row',
    },
  ];
}

export const suite: BenchSuite = {
  name: 'supervisor',
  async run(context) {
    if (process.platform === 'win32') throw new Error('The supervisor suite uses FIFOs and /bin/sh: Linux or macOS only.');
    ensureSupervisorBundle(context.log);
    const figures: BenchFigure[] = [];
    context.log('start overhead');
    figures.push(...(await startOverhead(context)));
    context.log('throughput');
    figures.push(...(await throughput(context)));
    context.log('checkpoints');
    figures.push(...(await checkpointLatency(context)));
    return figures;
  },
};
