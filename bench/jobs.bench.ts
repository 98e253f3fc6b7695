import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Emitter } from '../src/core/emitter';
import { DurableQueueLog } from '../src/core/queue/durableQueueLog';
import type { Job, QueueRecord } from '../src/core/queue/jobModel';
import { queueFlagsSchema } from '../src/core/queue/jobModel';
import { retryPolicySchema } from '../src/core/queue/retryPolicy';
import { JobQueue } from '../src/core/queue/jobQueue';
import type { JobRunner, RunEvent, RunRequest } from '../src/core/queue/jobRunner';
import { nullLogger } from '../src/core/logger';
import { WorkspaceRuntime } from '../src/core/runtime/workspaceRuntime';
import { openWorkspaceDirectory } from '../src/core/storage/workspaceDirectory';
import { BackupManager } from '../src/core/storage/backupManager';
import { durableBackupSource } from '../src/core/storage/durableBackupSource';
import type { BenchContext, BenchFigure, BenchSuite } from './harness';
import { percentile } from './harness';

/** Runs nothing; notes when each job was handed to it. */
export class NoopRunner implements JobRunner {
  private readonly emitter = new Emitter<RunEvent>();
  readonly onDidRun = this.emitter.event;
  readonly startedAt = new Map<string, number>();
  start(request: RunRequest): void {
    this.startedAt.set(request.jobId, Date.now());
  }
  kill(): void {}
  async dispose(): Promise<void> {}
}

function syntheticJob(i: number, dir: string, state: Job['state'], now: number): Job {
  const finished = state === 'succeeded' || state === 'failed';
  return {
    id: `job-${i}`,
    name: `build ${i}`,
    kind: 'command',
    group: 'default',
    stages: [{ name: 'main', command: `npm run build -- --shard ${i}`, cwd: dir, outputs: [] }],
    priority: 0,
    position: i + 1,
    tags: ['bench'],
    state,
    createdAt: now - 1_000_000 + i,
    startedAt: finished ? now - 500_000 + i : undefined,
    finishedAt: finished ? now - 400_000 + i : undefined,
    retry: retryPolicySchema.parse({}),
    attempts: finished ? 1 : 0,
    actualDurationMs: finished ? 100_000 : undefined,
    completedStages: finished ? ['main'] : [],
    interruptions: 0,
    result: finished ? { exitCode: state === 'failed' ? 1 : 0, signal: null, warnings: [], files: [] } : undefined,
  };
}

/** Writes a compacted queue with `finished` finished and `queued` queued jobs. */
export async function seedQueue(queueDir: string, workDir: string, finished: number, queued: number): Promise<void> {
  const now = Date.now();
  const records: QueueRecord[] = [{ t: 'flags', flags: queueFlagsSchema.parse({ paused: true }) }];
  for (let i = 0; i < finished + queued; i++) {
    records.push({ t: 'job', job: syntheticJob(i, workDir, i < finished ? (i % 10 === 0 ? 'failed' : 'succeeded') : 'queued', now) });
  }
  const log = new DurableQueueLog({ directory: queueDir });
  await log.load();
  await log.commit(records);
  await log.compact();
  await log.close();
}

const median = (values: number[]): number => percentile(values, 50);

async function restore10k(context: BenchContext): Promise<BenchFigure> {
  const total = Math.round(10_000 * context.scale);
  const queueDir = join(context.scratchDir, 'restore', 'queue');
  await seedQueue(queueDir, context.scratchDir, Math.round(total * 0.9), total - Math.round(total * 0.9));
  const samples: number[] = [];
  for (let run = 0; run < 5; run++) {
    const started = performance.now();
    const queue = await JobQueue.open({
      log: new DurableQueueLog({ directory: queueDir }),
      runner: new NoopRunner(),
      baseDir: context.scratchDir,
    });
    queue.state.nextRunnable();
    samples.push(performance.now() - started);
    await queue.dispose();
  }
  return {
    name: 'jobs.restore10k.ms',
    value: median(samples),
    unit: 'ms',
    target: { max: 200 },
    note: `${total} jobs (90% finished), median of 5 opens`,
  };
}

/**
 * An automatic backup of a 10k-job queue as the runtime writes it (exportSnapshot, gzip,
 * checksum, atomic write), on the thread that holds the queue: the whole time, and the longest
 * the event loop was held (what a window would feel).
 */
async function backup10k(context: BenchContext): Promise<BenchFigure[]> {
  const total = Math.round(10_000 * context.scale);
  const queueDir = join(context.scratchDir, 'backup', 'queue');
  await seedQueue(queueDir, context.scratchDir, Math.round(total * 0.9), total - Math.round(total * 0.9));
  const log = new DurableQueueLog({ directory: queueDir });
  await log.load();
  const store = log.durableStore;
  if (!store) throw new Error('the queue did not open');
  const manager = new BackupManager({
    directory: join(context.scratchDir, 'backup', 'backups'),
    source: durableBackupSource([{ store, summary: () => `${store.state.jobs.size} jobs` }]),
    appVersion: 'bench',
  });
  const durations: number[] = [];
  const blocked: number[] = [];
  let size = 0;
  for (let run = 0; run < 5; run++) {
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    const started = performance.now();
    size = (await manager.create('scheduled')).fileSize;
    durations.push(performance.now() - started);
    delay.disable();
    blocked.push(delay.max / 1e6);
  }
  await log.close();
  const note = `${total} jobs, ${Math.round(size / 1024)} KiB gzipped, median of 5`;
  return [
    { name: 'jobs.backup10k.ms', value: median(durations), unit: 'ms', note },
    { name: 'jobs.backup10k.loopBlockedMs', value: median(blocked), unit: 'ms', note: 'longest event-loop stall during one backup' },
  ];
}

async function enqueue500(context: BenchContext): Promise<BenchFigure[]> {
  const existing = Math.round(2500 * context.scale);
  const adding = Math.round(500 * context.scale);
  const queueDir = join(context.scratchDir, 'enqueue', 'queue');
  await seedQueue(queueDir, context.scratchDir, existing - 200, 200);
  const queue = await JobQueue.open({
    log: new DurableQueueLog({ directory: queueDir }),
    runner: new NoopRunner(),
    baseDir: context.scratchDir,
  });
  // Each enqueue is acknowledged only on disk, so one after another they cost at least one
  // fdatasync each: measure that floor in the same loop, interleaved (docs/platform.md).
  const floorFile = await fs.open(join(context.scratchDir, 'enqueue-floor.bin'), 'w');
  const payload = Buffer.alloc(700, 7);
  let floor = 0;
  let sequential = 0;
  for (let i = 0; i < adding; i++) {
    let started = performance.now();
    await floorFile.write(payload, 0, payload.length, i * payload.length);
    await floorFile.datasync();
    floor += performance.now() - started;
    started = performance.now();
    await queue.command({ type: 'enqueue', definition: { name: `added ${i}`, command: `echo ${i}` } });
    sequential += performance.now() - started;
  }
  await floorFile.close();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: adding }, (_, i) => queue.command({ type: 'enqueue', definition: { name: `burst ${i}`, command: `echo ${i}` } })),
  );
  const concurrent = performance.now() - started;
  await queue.dispose();
  return [
    {
      name: 'jobs.enqueue500into2500.ms',
      value: sequential,
      unit: 'ms',
      target: { max: 500 },
      note: `${adding} enqueues one after another into ${existing}, each acknowledged on disk`,
    },
    {
      name: 'jobs.enqueue500into2500.floor.ms',
      value: floor,
      unit: 'ms',
      note: `${adding} fdatasync'd appends of one record's size, interleaved with the above`,
    },
    {
      name: 'jobs.enqueue500into2500.concurrent.ms',
      value: concurrent,
      unit: 'ms',
      note: `${adding} more sent at once (group commit), into ${existing + adding}`,
    },
  ];
}

async function timerSkew(context: BenchContext): Promise<BenchFigure> {
  const count = Math.max(20, Math.round(200 * context.scale));
  const runner = new NoopRunner();
  const queue = await JobQueue.open({
    log: new DurableQueueLog({ directory: join(context.scratchDir, 'timers', 'queue') }),
    runner,
    baseDir: context.scratchDir,
  });
  await queue.command({ type: 'setConcurrency', limit: 256 });
  const base = Date.now() + 300;
  const runAt = new Map<string, number>();
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const at = base + Math.round((i * 1500) / count);
      const job = await queue.enqueue({ definition: { name: `t${i}`, command: 'true' }, runAt: at });
      runAt.set(job.id, at);
    }),
  );
  while (runner.startedAt.size < count) await new Promise((resolve) => setTimeout(resolve, 20));
  const skews = [...runAt].map(([id, at]) => (runner.startedAt.get(id) as number) - at);
  await queue.dispose();
  return {
    name: 'jobs.timerSkew.p99Ms',
    value: percentile(skews, 99),
    unit: 'ms',
    note: `${count} delayed jobs over 1.5 s; start = handed to the runner (start recorded on disk first); p50 ${percentile(skews, 50)} ms`,
  };
}

async function clientCommand(context: BenchContext): Promise<BenchFigure[]> {
  // Two processes' runtimes on one workspace, as the product opens them (the supervisors replaced
  // by a runner that runs nothing): the second is a client of the first.
  const workspaceKey = `file:${context.scratchDir}`;
  const { path: storageDirectory } = await openWorkspaceDirectory(join(context.scratchDir, 'globalStorage'), workspaceKey);
  const open = (): Promise<WorkspaceRuntime> =>
    WorkspaceRuntime.open({
      storageDirectory,
      workspaceKey,
      baseDir: context.scratchDir,
      logger: nullLogger,
      role: 'bench',
      supervisorScript: join(__dirname, '..', 'src', 'supervisor', 'main.js'),
      sqlWasmPath: join(__dirname, '..', '..', 'node_modules', 'sql.js', 'dist', 'sql-wasm.wasm'),
      overrides: { createRunner: () => new NoopRunner(), lease: { heartbeatMs: 1000, staleAfterMs: 5000 } },
    });
  const holderRuntime = await open();
  const clientRuntime = await open();
  const holder = holderRuntime.queue;
  const client = clientRuntime.queue;
  if (holder.role !== 'holder' || client.role !== 'client') throw new Error('unexpected roles');
  // The holder's history opens in the background: measured commands do not race its opening.
  await holderRuntime.history.whenOpen();
  await client.execute({ type: 'setPaused', paused: true });
  const { jobId } = await client.execute({ type: 'enqueue', definition: { name: 'target', command: 'true' } });
  // The fsync floor, synced as the queue log syncs: a positional write and fdatasync through fs.promises.
  const floorFile = await fs.open(join(context.scratchDir, 'floor.bin'), 'w');
  const payload = Buffer.alloc(1024, 7);
  let floorSize = 0;
  const floor: number[] = [];
  const command: number[] = [];
  const rounds = Math.max(30, Math.round(300 * context.scale));
  for (let i = 0; i < rounds; i++) {
    let started = performance.now();
    await floorFile.write(payload, 0, payload.length, floorSize);
    await floorFile.datasync();
    floorSize += payload.length;
    floor.push(performance.now() - started);
    started = performance.now();
    await client.execute({ type: 'setPriority', jobId: jobId as string, priority: i % 100 });
    command.push(performance.now() - started);
  }
  await floorFile.close();
  await clientRuntime.close();
  await holderRuntime.close();
  const floorP50 = percentile(floor, 50);
  return [
    {
      name: 'jobs.clientCommand.p50Ms',
      value: percentile(command, 50),
      unit: 'ms',
      note: `client → socket → holder → fdatasync → reply; p99 ${percentile(command, 99).toFixed(3)} ms`,
    },
    {
      name: 'jobs.fsyncFloor.p50Ms',
      value: floorP50,
      unit: 'ms',
      note: `1 KB fdatasync'd append, interleaved; p99 ${percentile(floor, 99).toFixed(3)} ms`,
    },
    { name: 'jobs.clientCommand.vsFloor.ratio', value: percentile(command, 50) / floorP50, unit: 'ratio' },
  ];
}

export const suite: BenchSuite = {
  name: 'jobs',
  async run(context) {
    const figures: BenchFigure[] = [];
    context.log('restore');
    figures.push(await restore10k(context));
    context.log('backup');
    figures.push(...(await backup10k(context)));
    context.log('enqueue');
    figures.push(...(await enqueue500(context)));
    context.log('timers');
    figures.push(await timerSkew(context));
    context.log('client commands');
    figures.push(...(await clientCommand(context)));
    return figures;
  },
};
