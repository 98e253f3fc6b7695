import { StateStore } from '../../src/core/storage/stateStore';
import type { StateIntent } from './stateStoreSubject';
import { tortureCompaction } from './stateStoreSubject';
import { report } from './tortureHarness';

/**
 * The torture child: random sets, deletes and batches on a StateStore, several in flight at once
 * (so group commit and compaction run), until the parent kills it. Never exits by itself.
 */
async function main(directory: string, round: number, firstId: number): Promise<void> {
  let seed = (round * 2654435761 + 1) >>> 0;
  const random = (): number => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
  const store = await StateStore.open({ directory, compaction: tortureCompaction });
  report('R');
  let id = firstId;
  const inFlight = new Set<Promise<void>>();
  for (;;) {
    while (inFlight.size < 4) {
      const commitId = id++;
      const count = random() < 0.3 ? 2 + Math.floor(random() * 5) : 1;
      const ops: [string, string, unknown][] = [];
      for (let index = 0; index < count; index++) {
        const namespace = `ns${Math.floor(random() * 3)}`;
        const key = `k${Math.floor(random() * 12)}`;
        ops.push([namespace, key, random() < 0.2 ? null : { id: commitId, index, pad: 'p'.repeat(Math.floor(random() * 1500)) }]);
      }
      const intent: StateIntent = { ops };
      report(`B ${commitId} ${JSON.stringify(intent)}`);
      const commit = store
        .batch(ops.map(([namespace, key, value]) => (value === null ? { namespace, key, delete: true as const } : { namespace, key, value })))
        .then(
          () => report(`A ${commitId}`),
          () => report(`F ${commitId}`),
        )
        .finally(() => inFlight.delete(commit));
      inFlight.add(commit);
    }
    await Promise.race(inFlight);
  }
}

const [directory, round, firstId] = process.argv.slice(2);
main(directory ?? '', Number(round ?? 0), Number(firstId ?? 1)).catch((error: unknown) => {
  process.stderr.write(`torture child failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
