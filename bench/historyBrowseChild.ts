/**
 * Run by history.bench.ts in a fresh process, so the archive figures are not skewed by the memory
 * the generator left behind: `node --expose-gc historyBrowseChild.js <dir> <wasmPath>`.
 * Prints one JSON line: cold first page, scroll pages, and resident memory before and during a
 * walk through the whole archive.
 */
import { performance } from 'node:perf_hooks';
import { MemoryHistoryLog } from '../src/core/history/historyLog';
import { JobHistory } from '../src/core/history/jobHistory';

async function main(dir: string, wasmPath: string): Promise<void> {
  const { history } = await JobHistory.open({ directory: dir, log: new MemoryHistoryLog(), wasmPath });
  await history.whenIdle();
  const gc = (globalThis as { gc?: () => void }).gc;
  // Let V8 hand back what opening left over, so the baseline does not sink under the walk.
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const beforeAny = process.memoryUsage.rss();
  let t = performance.now();
  let page = await history.archivePage({ filter: { states: ['failed'] }, limit: 50 });
  const coldMs = performance.now() - t;
  let peak = process.memoryUsage.rss();
  const scrollMs: number[] = [];
  for (let i = 0; i < 100 && page.nextCursor; i++) {
    t = performance.now();
    page = await history.archivePage({ filter: { states: ['failed'] }, limit: 50, cursor: page.nextCursor });
    scrollMs.push(performance.now() - t);
    peak = Math.max(peak, process.memoryUsage.rss());
  }
  let seen = 0;
  let cursor: string | undefined;
  t = performance.now();
  do {
    const all = await history.archivePage({ limit: 1000, cursor });
    seen += all.entries.length;
    cursor = all.nextCursor;
    peak = Math.max(peak, process.memoryUsage.rss());
  } while (cursor);
  const browseMs = performance.now() - t;
  const openAtEnd = history.archive.openShards;
  await history.close();
  process.stdout.write(`${JSON.stringify({ coldMs, scrollMs, beforeAny, peak, seen, browseMs, openAtEnd })}\n`);
}

const [dir = '', wasmPath = ''] = process.argv.slice(2);
main(dir, wasmPath).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
