import { StateStore } from '../../src/core/storage/stateStore';
import type { StateIntent } from './stateStoreSubject';
import { tortureCompaction } from './stateStoreSubject';
import { commitForever, runChild, seededRandom } from './tortureChild';
import { report } from './tortureHarness';

/**
 * The torture child: random sets, deletes and batches on a StateStore, several in flight at once
 * (so group commit and compaction run), until the parent kills it. Never exits by itself.
 */
async function main(directory: string, round: number, firstId: number): Promise<void> {
  const random = seededRandom(round, 1);
  const store = await StateStore.open({ directory, compaction: tortureCompaction });
  report('R');
  await commitForever<StateIntent>(firstId, 4, (commitId) => {
    const count = random() < 0.3 ? 2 + Math.floor(random() * 5) : 1;
    const ops: [string, string, unknown][] = [];
    for (let index = 0; index < count; index++) {
      const namespace = `ns${Math.floor(random() * 3)}`;
      const key = `k${Math.floor(random() * 12)}`;
      ops.push([namespace, key, random() < 0.2 ? null : { id: commitId, index, pad: 'p'.repeat(Math.floor(random() * 1500)) }]);
    }
    return {
      intent: { ops },
      commit: () =>
        store.batch(
          ops.map(([namespace, key, value]) => (value === null ? { namespace, key, delete: true as const } : { namespace, key, value })),
        ),
    };
  });
}

runChild('torture child', main);
