import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HistoryEntryInput, JobFinalState } from '../../../src/core/history/historyEntry';
import { JobHistory } from '../../../src/core/history/jobHistory';
import type { JobHistoryOptions } from '../../../src/core/history/jobHistory';

/** The wasm as the tests find it: the installed package (at run time the bundle ships a copy). */
export const wasmPath = join(__dirname, '..', '..', '..', '..', 'node_modules', 'sql.js', 'dist', 'sql-wasm.wasm');

export const day = 86_400_000;
/** 2026-01-01T00:00:00Z */
export const epoch = Date.UTC(2026, 0, 1);

export function tempDir(label: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `lifeline-history-${label}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** A deterministic entry: every 10th fails, every 7th is tagged gpu, one command per 5 jobs. */
export function makeEntry(i: number, overrides: Partial<HistoryEntryInput> = {}): HistoryEntryInput {
  const state: JobFinalState = i % 10 === 0 ? 'failed' : 'succeeded';
  const finishedAt = epoch + i * 3_600_000;
  return {
    jobId: `job-${String(i).padStart(6, '0')}`,
    name: `build ${i % 3 === 0 ? 'frontend' : 'backend'}`,
    command: `npm run task${i % 5}`,
    cwd: '/work/project',
    state,
    attempts: 1 + (i % 2),
    createdAt: finishedAt - 120_000,
    startedAt: finishedAt - 100_000 + (i % 4) * 1000,
    finishedAt,
    durationMs: 1000 * (1 + (i % 20)),
    exitCode: state === 'failed' ? 1 : 0,
    error: state === 'failed' ? 'exit code 1' : undefined,
    warnings: [],
    outputTail: `line ${i}\ndone`,
    files: [`dist/out-${i}.js`],
    checkpoints: { count: i % 3 },
    tags: i % 7 === 0 ? ['gpu', 'nightly'] : ['ci'],
    ...overrides,
  };
}

/** A history in `dir`, on the durable log (the storage core) unless `options.log` says otherwise. */
export async function openHistory(
  dir: string,
  options: Partial<JobHistoryOptions> = {},
): Promise<Awaited<ReturnType<typeof JobHistory.open>>> {
  return JobHistory.open({ directory: dir, wasmPath, ...options });
}
