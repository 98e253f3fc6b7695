import { report } from './tortureHarness';

/** A seeded generator, so a failing round can be replayed from its round number. */
export function seededRandom(round: number, salt: number): () => number {
  let seed = (round * 2654435761 + salt) >>> 0;
  return () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
}

/**
 * The child side of the torture protocol: keeps `depth` commits in flight (so group commit and
 * compaction run), reporting `B <id> <intent>` before each starts, then `A <id>` once it is
 * acknowledged or `F <id>` if it failed. Never returns: the parent kills the child.
 */
export async function commitForever<Intent>(
  firstId: number,
  depth: number,
  next: (commitId: number) => { intent: Intent; commit: () => Promise<unknown> },
): Promise<never> {
  let id = firstId;
  const inFlight = new Set<Promise<void>>();
  for (;;) {
    while (inFlight.size < depth) {
      const commitId = id++;
      const { intent, commit } = next(commitId);
      report(`B ${commitId} ${JSON.stringify(intent)}`);
      const done: Promise<void> = commit()
        .then(
          () => report(`A ${commitId}`),
          () => report(`F ${commitId}`),
        )
        .finally(() => inFlight.delete(done));
      inFlight.add(done);
    }
    await Promise.race(inFlight);
  }
}

/** Runs a child's main with the arguments the harness passes: directory, round, first commit id. */
export function runChild(name: string, main: (directory: string, round: number, firstId: number) => Promise<void>): void {
  const [directory, round, firstId] = process.argv.slice(2);
  main(directory ?? '', Number(round ?? 0), Number(firstId ?? 1)).catch((error: unknown) => {
    process.stderr.write(`${name} failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
