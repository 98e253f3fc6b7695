import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchFigure, BenchSuite } from './harness';
import { round, targetMet } from './harness';

/**
 * `npm run bench [-- --json] [-- --quick] [-- <suite> ...]`: runs every bench/*.bench.ts suite
 * (or the named ones), prints a table with targets and whether each is met, and with --json the
 * whole result as one JSON object on the last line.
 */
async function main(argv: readonly string[]): Promise<void> {
  const json = argv.includes('--json');
  const quick = argv.includes('--quick');
  const only = argv.filter((arg) => !arg.startsWith('--'));
  const files = readdirSync(__dirname)
    .filter((name) => name.endsWith('.bench.js'))
    .sort();
  const figures: BenchFigure[] = [];
  const scratchRoot = join(__dirname, '..', '..', '.bench-scratch');
  for (const file of files) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- suites are found at run time
    const suite = (require(join(__dirname, file)) as { suite: BenchSuite }).suite;
    if (only.length > 0 && !only.includes(suite.name)) continue;
    // On the project's own disk, not a tmpfs: fsync figures must be the real disk's.
    mkdirSync(scratchRoot, { recursive: true });
    const scratchDir = mkdtempSync(join(scratchRoot, `${suite.name}-`));
    process.stderr.write(`[bench] ${suite.name}…\n`);
    try {
      figures.push(...(await suite.run({ scratchDir, scale: quick ? 0.1 : 1, log: (message) => process.stderr.write(`[bench] ${suite.name}: ${message}\n`) })));
    } finally {
      rmSync(scratchDir, { recursive: true, force: true });
    }
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
