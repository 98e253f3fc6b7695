import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchFigure, BenchSuite } from './harness';
import { round, targetMet } from './harness';

const scratchRoot = join(__dirname, '..', '..', '.bench-scratch');

function loadSuites(): BenchSuite[] {
  return readdirSync(__dirname)
    .filter((name) => name.endsWith('.bench.js'))
    .sort()
    .map((file) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- suites are found at run time
      return (require(join(__dirname, file)) as { suite: BenchSuite }).suite;
    });
}

/** Runs one suite in this process and writes its figures as JSON to `out`. */
async function runChild(name: string, out: string, quick: boolean): Promise<void> {
  const suite = loadSuites().find((candidate) => candidate.name === name);
  if (!suite) throw new Error(`no bench suite named ${name}`);
  // On the project's own disk, not a tmpfs: fsync figures must be the real disk's.
  mkdirSync(scratchRoot, { recursive: true });
  const scratchDir = mkdtempSync(join(scratchRoot, `${suite.name}-`));
  try {
    const figures = await suite.run({
      scratchDir,
      scale: quick ? 0.1 : 1,
      log: (message) => process.stderr.write(`[bench] ${suite.name}: ${message}\n`),
    });
    writeFileSync(out, JSON.stringify(figures));
  } finally {
    rmSync(scratchDir, { recursive: true, force: true });
  }
}

/**
 * `npm run bench [-- --json] [-- --quick] [-- <suite> ...]`: runs every bench/*.bench.ts suite
 * (or the named ones), each in a fresh process of its own so that none measures in a heap another
 * left behind (a bare spawn's fork copies the page tables of its parent), prints a table with
 * targets and whether each is met, and with --json the whole result as one JSON object on the
 * last line.
 */
async function main(argv: readonly string[]): Promise<void> {
  const json = argv.includes('--json');
  const quick = argv.includes('--quick');
  const child = argv.indexOf('--child');
  if (child >= 0) return runChild(argv[child + 1] ?? '', argv[child + 2] ?? '', quick);
  const only = argv.filter((arg) => !arg.startsWith('--'));
  const figures: BenchFigure[] = [];
  mkdirSync(scratchRoot, { recursive: true });
  for (const suite of loadSuites()) {
    if (only.length > 0 && !only.includes(suite.name)) continue;
    process.stderr.write(`[bench] ${suite.name}…\n`);
    const out = join(mkdtempSync(join(scratchRoot, 'figures-')), 'figures.json');
    const run = spawnSync(process.execPath, [...process.execArgv, __filename, '--child', suite.name, out, ...(quick ? ['--quick'] : [])], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (run.status !== 0) throw new Error(`the ${suite.name} suite failed (exit ${run.status ?? run.signal})`);
    figures.push(...(JSON.parse(readFileSync(out, 'utf8')) as BenchFigure[]));
    rmSync(join(out, '..'), { recursive: true, force: true });
  }
  const nameWidth = Math.max(10, ...figures.map((f) => f.name.length));
  const lines = [`${'figure'.padEnd(nameWidth)}  ${'value'.padStart(12)}  unit    target        met`];
  for (const figure of figures) {
    const target = figure.target ? (figure.target.max !== undefined ? `<= ${figure.target.max}` : `>= ${figure.target.min}`) : '';
    const met = targetMet(figure);
    lines.push(
      `${figure.name.padEnd(nameWidth)}  ${String(round(figure.value)).padStart(12)}  ${figure.unit.padEnd(6)}  ${target.padEnd(12)}  ${met === undefined ? '' : met ? 'yes' : 'NO'}${figure.note ? `  (${figure.note})` : ''}`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  if (json) {
    const object: Record<string, number> = {};
    for (const figure of figures) object[figure.name] = round(figure.value);
    process.stdout.write(`${JSON.stringify(object)}\n`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
