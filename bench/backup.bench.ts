import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { nullLogger } from '../src/core/logger';
import { WorkspaceRuntime } from '../src/core/runtime/workspaceRuntime';
import { openWorkspaceDirectory } from '../src/core/storage/workspaceDirectory';
import type { BenchContext, BenchFigure, BenchSuite } from './harness';
import { percentile } from './harness';
import { NoopRunner, seedQueue } from './jobs.bench';

const RUNS = 3;
const median = (values: number[]): number => percentile(values, 50);

/** The baseline: the same bytes copied with fs.copyFile, each copy and its folder fsync'd (what any file backup costs at least). */
async function copyFloor(files: readonly string[], into: string): Promise<number> {
  await fs.mkdir(into, { recursive: true });
  const started = performance.now();
  for (const [index, file] of files.entries()) {
    const target = join(into, `${index}.copy`);
    await fs.copyFile(file, target);
    const handle = await fs.open(target, 'r+');
    await handle.sync();
    await handle.close();
  }
  const folder = await fs.open(into, 'r');
  await folder.sync();
  await folder.close();
  const elapsed = performance.now() - started;
  await fs.rm(into, { recursive: true, force: true });
  return elapsed;
}

/**
 * Backup and restore in place of a workspace with a 100k-key state store, a 10k-job queue and
 * 100 history entries, through the runtime (the commands' path): create is the whole manual
 * backup (exportSnapshot of each store, gzip, checksums, atomic write); restore is the whole
 * restore in place (verify, the safety backup, replacing the stores, reopening the queue and the
 * history). Each against copying the stores' snapshot files with copyFile + fsync, in the same run.
 */
async function backupAndRestore(context: BenchContext): Promise<BenchFigure[]> {
  const keys = Math.round(100_000 * context.scale);
  const jobs = Math.round(10_000 * context.scale);
  const entries = 100;
  const workspaceKey = `file:${context.scratchDir}`;
  const { path: storageDirectory } = await openWorkspaceDirectory(join(context.scratchDir, 'global'), workspaceKey);
  // The queue through the jobs bench's helper (its own commit path), compacted, before the runtime opens it.
  await seedQueue(join(storageDirectory, 'queue'), context.scratchDir, Math.round(jobs * 0.9), jobs - Math.round(jobs * 0.9));
  const runtime = await WorkspaceRuntime.open({
    storageDirectory,
    workspaceKey,
    baseDir: context.scratchDir,
    logger: nullLogger,
    role: 'bench',
    supervisorScript: join(__dirname, '..', 'src', 'supervisor', 'main.js'),
    sqlWasmPath: join(__dirname, '..', '..', 'node_modules', 'sql.js', 'dist', 'sql-wasm.wasm'),
    options: { backupIntervalHours: 0, backupKeep: 2 },
    overrides: { createRunner: () => new NoopRunner() },
  });
  try {
    // The runtime's own state store (it opens it as the holder), filled through its own API.
    const state = await runtime.services.stateStore?.whenOpen();
    if (!state) throw new Error('the state store did not open');
    const history = await runtime.history.whenOpen();
    if (!history) throw new Error('the history did not open');
    const now = Date.now();
    for (let i = 0; i < entries; i++) {
      await history.append({
        jobId: `bench-${i}@1`,
        name: `build ${i}`,
        command: `npm run build -- --shard ${i}`,
        cwd: context.scratchDir,
        state: i % 10 === 0 ? 'failed' : 'succeeded',
        attempts: 1,
        createdAt: now - 200_000 + i,
        startedAt: now - 100_000 + i,
        finishedAt: now - 50_000 + i,
        durationMs: 50_000,
        exitCode: i % 10 === 0 ? 1 : 0,
        warnings: [],
        outputTail: `line ${i}\ndone`,
        files: [],
      });
    }
    // The state store through its own API, in batches of 1,000 keys of about 100 bytes each.
    for (let start = 0; start < keys; start += 1000) {
      const batch = [];
      for (let i = start; i < Math.min(keys, start + 1000); i++) {
        batch.push({
          namespace: `ext${i % 10}`,
          key: `key-${i}`,
          value: { index: i, label: `value number ${i}`, tags: ['bench', 'state'] },
        });
      }
      await state.batch(batch);
    }
    const durable = state.durable;
    const backups = runtime.services.backups;
    if (!durable || !backups) throw new Error('the state store or the backups service is missing');
    await durable.compact();
    await history.whenIdle();

    const snapshots = [join(storageDirectory, 'queue', 'queue.snapshot'), join(storageDirectory, 'state', 'state.snapshot')];
    const created: number[] = [];
    const restored: number[] = [];
    const floors: number[] = [];
    let size = 0;
    for (let run = 0; run < RUNS; run++) {
      floors.push(await copyFloor(snapshots, join(context.scratchDir, 'floor')));
      let started = performance.now();
      const info = await runtime.createBackup();
      created.push(performance.now() - started);
      size = info.fileSize;
      started = performance.now();
      await runtime.restoreBackup(info.id);
      restored.push(performance.now() - started);
    }
    const floor = median(floors);
    const rawBytes = (await Promise.all(snapshots.map((file) => fs.stat(file)))).reduce((sum, stat) => sum + stat.size, 0);
    const note = `${keys} keys, ${jobs} jobs, ${entries} history entries; ${Math.round(size / 1024)} KiB gzipped; median of ${RUNS}`;
    return [
      { name: 'backup.create.ms', value: median(created), unit: 'ms', note },
      { name: 'backup.restore.ms', value: median(restored), unit: 'ms', note: `${note}; safety backup and reopening included` },
      {
        name: 'backup.copyFloor.ms',
        value: floor,
        unit: 'ms',
        note: `copyFile + fsync of the stores' snapshots (${Math.round(rawBytes / 1024)} KiB), same run`,
      },
      { name: 'backup.create.ratio', value: median(created) / floor, unit: 'ratio', note: 'create against the copy floor' },
      { name: 'backup.restore.ratio', value: median(restored) / floor, unit: 'ratio', note: 'restore against the copy floor' },
    ];
  } finally {
    await runtime.close();
  }
}

export const suite: BenchSuite = {
  name: 'backup',
  async run(context) {
    context.log('create and restore');
    return backupAndRestore(context);
  },
};
