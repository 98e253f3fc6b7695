import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdirSync, promises as fs, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ActiveHistory } from '../src/core/history/activeHistory';
import { entryColumns, entryToRow, parseEntry } from '../src/core/history/historyEntry';
import type { HistoryEntry } from '../src/core/history/historyEntry';
import { exportHistory } from '../src/core/history/historyExport';
import { MemoryHistoryLog } from '../src/core/history/historyLog';
import { JobHistory } from '../src/core/history/jobHistory';
import { writeIndex } from '../src/core/history/shardIndex';
import type { ShardInfo } from '../src/core/history/shardIndex';
import { buildShard, planShards, shardFileName } from '../src/core/history/shardWriter';
import { loadSqlJs } from '../src/core/history/sqlLoader';
import { writeSnapshot } from '../src/core/storage/snapshot';
import type { BenchContext, BenchFigure, BenchSuite } from './harness';
import { percentile, round } from './harness';

const wasmPath = join(__dirname, '..', '..', 'node_modules', 'sql.js', 'dist', 'sql-wasm.wasm');
const start = Date.UTC(2023, 0, 1);
const threeYears = Date.UTC(2026, 0, 1) - start;

/** mulberry32: the same archive on every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const words = ['build', 'test', 'lint', 'deploy', 'render', 'train', 'migrate', 'package', 'bundle', 'index'];

/** About 500 bytes as JSON, 10 % failed, spread evenly over `span` from `from`. */
export function makeEntries(count: number, from: number, span: number, seed: number, prefix: string): HistoryEntry[] {
  const next = random(seed);
  const entries: HistoryEntry[] = [];
  for (let i = 0; i < count; i++) {
    const finishedAt = Math.floor(from + (span * i) / count);
    const failed = next() < 0.1;
    const word = words[Math.floor(next() * words.length)] ?? 'build';
    const duration = Math.floor(1000 + next() * 600_000);
    entries.push({
      jobId: `${prefix}${String(i).padStart(8, '0')}`,
      name: `${word} ${words[i % words.length] ?? ''} #${i % 97}`,
      command: `npm run ${word} -- --project packages/app-${i % 13} --mode ${failed ? 'debug' : 'release'}`,
      cwd: '/home/developer/work/monorepo',
      state: failed ? 'failed' : 'succeeded',
      attempts: 1,
      createdAt: finishedAt - duration - 5000,
      startedAt: finishedAt - duration,
      finishedAt,
      durationMs: duration,
      exitCode: failed ? 1 : 0,
      error: failed ? 'Process exited with code 1' : undefined,
      warnings: [],
      outputTail: `> ${word}\ncompiled ${i % 500} modules in ${duration} ms\n${'.'.repeat(120)}\ndone ${failed ? 'with errors' : 'ok'}`,
      files: [`dist/app-${i % 13}.js`],
      checkpoints: { count: i % 4 },
      tags: [i % 5 === 0 ? 'nightly' : 'ci'],
      queueWaitMs: 5000,
    });
  }
  return entries;
}

/** Writes an active history of `count` entries in one transaction, as its image: a benchmark set-up, not the product path. */
async function seedActive(dir: string, count: number): Promise<void> {
  const SQL = await loadSqlJs(wasmPath);
  const { active } = await ActiveHistory.open(SQL, new MemoryHistoryLog());
  const insert = active.db.prepare(
    `INSERT INTO entries(seq, ${entryColumns.join(', ')}) VALUES (?, ${entryColumns.map(() => '?').join(', ')})`,
  );
  active.db.exec('BEGIN');
  makeEntries(count, start, threeYears, 7, 'seed-').forEach((entry, index) => {
    const row = entryToRow(entry);
    insert.run([index + 1, ...entryColumns.map((column) => row[column])]);
  });
  active.db.exec(`COMMIT; UPDATE meta SET value = ${count} WHERE key = 'appliedSeq'`);
  insert.free();
  // As the durable log's snapshot: generation 1, holding no journal record yet.
  await writeSnapshot(join(dir, 'history.snapshot'), active.db.export(), { generation: 1, sequence: 0 });
  await active.close();
}

/** A store append, then a floor append (same bytes, fdatasync'd the same way), set by set in one loop. */
async function appendFigures(
  context: BenchContext,
  active: number,
  label: string,
): Promise<{ figures: BenchFigure[]; history: JobHistory }> {
  const dir = join(context.scratchDir, `append-${label}`);
  mkdirSync(dir, { recursive: true });
  await seedActive(dir, active);
  const { history } = await JobHistory.open({
    directory: dir,
    wasmPath,
    maxActiveEntries: 10_000_000,
    compactAfterBytes: Number.MAX_SAFE_INTEGER,
  });
  const floor = await fs.open(join(dir, 'floor.log'), 'a');
  const rounds = Math.max(100, Math.round(1000 * context.scale));
  const entries = makeEntries(rounds, start + threeYears, 86_400_000, 11, `append-${label}-`);
  const line = Buffer.from(`00000000 ${JSON.stringify({ t: 'add', seq: 1, entry: entries[0] })}\n`);
  const store: number[] = [];
  const base: number[] = [];
  for (const entry of entries) {
    let t = performance.now();
    await floor.write(line);
    await floor.datasync();
    base.push(performance.now() - t);
    t = performance.now();
    await history.append(entry);
    store.push(performance.now() - t);
  }
  await floor.close();
  const p99 = percentile(store, 99);
  const floorP99 = percentile(base, 99);
  context.log(`append at ${label}: p50 ${round(percentile(store, 50))} ms, p99 ${round(p99)} ms, floor p99 ${round(floorP99)} ms`);
  return {
    history,
    figures: [
      { name: `history.append.p99Ms.${label}`, value: p99, unit: 'ms', note: `${active} active, floor p99 ${round(floorP99)} ms` },
      { name: `history.append.ratioP99.${label}`, value: p99 / floorP99, unit: 'ratio', target: { max: 2 } },
    ],
  };
}

/** Builds the archive straight into shards (no active history, no journal): deterministic and fast. */
async function generateArchive(context: BenchContext, dir: string, total: number): Promise<void> {
  const SQL = await loadSqlJs(wasmPath);
  const shardsDir = join(dir, 'archive', 'shards');
  mkdirSync(shardsDir, { recursive: true });
  const months = 36;
  const shards: ShardInfo[] = [];
  const t = performance.now();
  for (let month = 0; month < months; month++) {
    const from = Date.UTC(2023, month, 1);
    const span = Date.UTC(2023, month + 1, 1) - from;
    const entries = makeEntries(Math.round(total / months), from, span, 1000 + month, `m${String(month).padStart(2, '0')}-`);
    for (const [part, partEntries] of planShards(entries, 4 * 1024 * 1024).entries()) {
      const file = shardFileName(new Date(from).toISOString().slice(0, 7), 1, part);
      const { info, bytes } = await buildShard(SQL, partEntries, 1, file);
      writeFileSync(join(shardsDir, file), bytes);
      shards.push(info);
    }
  }
  await writeIndex(join(dir, 'archive'), { formatVersion: 1, nextBatch: 2, shards });
  const bytes = shards.reduce((sum, s) => sum + s.bytes, 0);
  context.log(
    `generated ${total} archived entries in ${shards.length} shards (${round(bytes / 1048576, 1)} MB) in ${round((performance.now() - t) / 1000, 1)} s`,
  );
}

async function archiveFigures(context: BenchContext): Promise<BenchFigure[]> {
  const dir = join(context.scratchDir, 'archive1m');
  const total = Math.round(1_000_000 * context.scale);
  await generateArchive(context, dir, total);
  // A fresh process: cold means nothing open and nothing cached, and its memory is not the generator's.
  const child = spawnSync(process.execPath, ['--expose-gc', join(__dirname, 'historyBrowseChild.js'), dir, wasmPath], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`browse child failed: ${child.stderr}`);
  const result = JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}') as {
    coldMs: number;
    scrollMs: number[];
    beforeAny: number;
    peak: number;
    seen: number;
    browseMs: number;
    openAtEnd: number;
  };
  context.log(
    `browsed ${result.seen} archived entries in ${round(result.browseMs / 1000, 1)} s; ${result.openAtEnd} shards open at the end`,
  );
  return [
    {
      name: 'history.page.coldMs',
      value: result.coldMs,
      unit: 'ms',
      target: { max: 20 },
      note: 'newest 50 failed, fresh process, no shard open',
    },
    { name: 'history.page.scrollP50Ms', value: percentile(result.scrollMs, 50), unit: 'ms', target: { max: 5 }, note: 'next 100 pages' },
    {
      name: 'history.browseArchive.rssMB',
      value: (result.peak - result.beforeAny) / 1048576,
      unit: 'MB',
      target: { max: 100 },
      note: `peak ${round(result.peak / 1048576, 0)} MB over ${round(result.beforeAny / 1048576, 0)} MB open, ${result.seen} entries paged`,
    },
  ];
}

export const suite: BenchSuite = {
  name: 'history',
  async run(context) {
    const figures: BenchFigure[] = [];
    const small = await appendFigures(context, 100, '100');
    figures.push(...small.figures);
    // Compaction at 100 active entries: the median of a few folds.
    const folds: number[] = [];
    for (let i = 0; i < 7; i++) {
      await small.history.append(parseEntry(makeEntries(1, Date.UTC(2026, 1, 1) + i, 1, 100 + i, `compact-${i}-`)[0]));
      const t = performance.now();
      await small.history.compact();
      folds.push(performance.now() - t);
    }
    figures.push({ name: 'history.compact.ms', value: percentile(folds, 50), unit: 'ms', note: '100 active entries, median of 7' });
    await small.history.close();

    const big = await appendFigures(context, Math.round(100_000 * context.scale), '100k');
    figures.push(...big.figures);
    const exportCount = big.history.active.count;
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const out = createWriteStream(join(context.scratchDir, 'export.csv'));
    let t = performance.now();
    await exportHistory(big.history, out, { format: 'csv', scope: 'active' });
    out.end();
    await once(out, 'close');
    figures.push({ name: 'history.export100k.ms', value: performance.now() - t, unit: 'ms', note: `CSV of ${exportCount} entries` });
    // Not an issue-9 figure: how long a fold of a large active history holds the event loop (db.export() is synchronous).
    t = performance.now();
    await big.history.compact();
    figures.push({ name: 'history.compact100k.ms', value: performance.now() - t, unit: 'ms', note: `${exportCount} active entries` });
    await big.history.close();

    const batchDir = join(context.scratchDir, 'batch');
    mkdirSync(batchDir, { recursive: true });
    // 1,100 jobs of one day: the batch is the oldest 1,000, one month, so one or two shards.
    const batch = await JobHistory.open({
      directory: batchDir,
      wasmPath,
      maxActiveEntries: 100,
      archiveMargin: 10_000_000,
      archiveBatchSize: 1000,
    });
    for (const entry of makeEntries(1100, start + threeYears, 86_400_000, 5, 'batch-')) await batch.history.append(entry);
    await batch.history.whenIdle();
    gc?.();
    t = performance.now();
    const archived = await batch.history.archiveNow();
    figures.push({
      name: 'history.archiveBatch.ms',
      value: performance.now() - t,
      unit: 'ms',
      note: `${archived.archived} entries, ${batch.history.archive.shards.length} shard(s)`,
    });
    await batch.history.close();

    figures.push(...(await archiveFigures(context)));
    return figures;
  },
};
