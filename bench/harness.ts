/**
 * The benchmark harness behind `npm run bench`. Each suite is a file `bench/<area>.bench.ts`
 * exporting `run(context)`, which returns named figures; the harness prints them as a table and,
 * with --json, as one JSON object on the last line. Figures are compared with a baseline measured
 * in the same run (the machine is shared and noisy), and a target says which way is good.
 */
export interface BenchFigure {
  /** Dotted name, e.g. `storage.durableWrite.p99Ms`. */
  readonly name: string;
  readonly value: number;
  readonly unit: 'ms' | 'ratio' | 'MB' | 'per s' | 'count';
  /** The target, when the issue sets one: `value <= max` or `value >= min`. */
  readonly target?: { readonly max?: number; readonly min?: number };
  readonly note?: string;
}

export interface BenchContext {
  /** A fresh scratch folder on the same disk as the project, removed after the suite. */
  readonly scratchDir: string;
  /** Scale factor from --quick (0.1) for smoke runs; 1 for the real thing. */
  readonly scale: number;
  log(message: string): void;
}

export interface BenchSuite {
  readonly name: string;
  run(context: BenchContext): Promise<BenchFigure[]>;
}

export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

export function round(value: number, digits = 3): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export function targetMet(figure: BenchFigure): boolean | undefined {
  if (!figure.target) return undefined;
  if (figure.target.max !== undefined && !(figure.value <= figure.target.max)) return false;
  if (figure.target.min !== undefined && !(figure.value >= figure.target.min)) return false;
  return true;
}
