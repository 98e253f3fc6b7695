import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import type { RecordCipher } from '../../../src/core/storage/cipher';
import { journalPath, snapshotPath } from '../../../src/core/storage/durableRecovery';
import { StorageError } from '../../../src/core/storage/errors';
import { scanJournal } from '../../../src/core/storage/journalFormat';
import { decodeSnapshot } from '../../../src/core/storage/snapshot';
import type { StateData } from '../../../src/core/storage/stateCodec';
import { StateStore } from '../../../src/core/storage/stateStore';
import type { StorageEvent } from '../../../src/core/storage/storeEvents';
import { makeTempDir, testCipher } from './storageTestKit';

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'garbage'; at: number; bytes: Uint8Array; replace: boolean }
  | { kind: 'hugeLength'; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('garbage' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }),
    replace: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('hugeLength' as const), at: fc.nat() }),
);

function mutate(original: Buffer, mutations: readonly Mutation[]): Buffer {
  let bytes = Buffer.from(original);
  for (const change of mutations) {
    const at = bytes.length === 0 ? 0 : change.at % bytes.length;
    if (change.kind === 'flip' && bytes.length > 0) bytes[at] = (bytes[at] as number) ^ (1 << change.bit);
    else if (change.kind === 'truncate') bytes = bytes.subarray(0, at);
    else if (change.kind === 'garbage') {
      bytes = Buffer.concat([
        bytes.subarray(0, at),
        Buffer.from(change.bytes),
        bytes.subarray(change.replace ? at + change.bytes.length : at),
      ]);
    } else if (change.kind === 'hugeLength' && at + 4 <= bytes.length) bytes.writeUInt32LE(0xfffffff0 - (at % 7), at);
  }
  return bytes;
}

function dump(data: StateData): string {
  return JSON.stringify(
    [...data]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([namespace, entries]) => [namespace, [...entries].sort(([a], [b]) => a.localeCompare(b))]),
  );
}

interface Fixture {
  snapshot: Buffer;
  journal: Buffer;
  journalName: string;
  /** The state after every commit, in order (index 0: empty). */
  prefixes: Set<string>;
  full: string;
}

async function buildFixture(dir: string, cipher: RecordCipher | undefined): Promise<Fixture> {
  const store = await StateStore.open({ directory: dir, compaction: false, cipher, compress: cipher !== undefined });
  const durable = store.durable;
  assert.ok(durable);
  const prefixes = new Set([dump(durable.state)]);
  for (let index = 0; index < 8; index++) {
    await store.set('a', `k${index}`, { index, text: 'x'.repeat(index * 3) });
    prefixes.add(dump(durable.state));
  }
  await durable.compact();
  await store.batch([
    { namespace: 'a', key: 'k1', delete: true },
    { namespace: 'b', key: 'batched', value: [1, 2, 3] },
  ]);
  prefixes.add(dump(durable.state));
  for (let index = 0; index < 6; index++) {
    await store.set('b', `j${index}`, index);
    prefixes.add(dump(durable.state));
  }
  const full = dump(durable.state);
  const generation = durable.metrics().lastCompaction ? 2 : 1;
  await store.close();
  const layout = { directory: dir, name: 'state' };
  return {
    snapshot: readFileSync(snapshotPath(layout)),
    journal: readFileSync(journalPath(layout, generation)),
    journalName: journalPath({ directory: '', name: 'state' }, generation),
    prefixes,
    full,
  };
}

describe('storage: fuzz', function () {
  this.timeout(180_000);
  let temp: ReturnType<typeof makeTempDir>;
  before(() => {
    // On tmpfs when there is one: this tests decoding and recovery logic, not the disk, and
    // thousands of fsyncs on the real disk would only make it slow.
    temp = makeTempDir('lifeline-fuzz-', existsSync('/dev/shm') ? '/dev/shm' : undefined);
  });
  after(() => temp.cleanup());

  for (const encrypted of [false, true]) {
    it(`mutated snapshots and journals open to a valid state or fail with a StorageError (${encrypted ? 'encrypted, gzip' : 'plain'})`, async () => {
      const cipher = encrypted ? testCipher() : undefined;
      const fixtureDir = join(temp.dir, `fixture-${encrypted}`);
      mkdirSync(fixtureDir);
      const fixture = await buildFixture(fixtureDir, cipher);
      const runDir = join(temp.dir, `run-${encrypted}`);
      const outcomes = { opened: 0, quarantined: 0, refused: 0 };
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('snapshot', 'journal', 'both'),
          fc.array(mutation, { minLength: 1, maxLength: 3 }),
          fc.boolean(),
          async (target, mutations, withBackup) => {
            rmSync(runDir, { recursive: true, force: true });
            mkdirSync(runDir);
            const snapshot = target === 'journal' ? fixture.snapshot : mutate(fixture.snapshot, mutations);
            const journal = target === 'snapshot' ? fixture.journal : mutate(fixture.journal, mutations);
            writeFileSync(snapshotPath({ directory: runDir, name: 'state' }), snapshot);
            writeFileSync(join(runDir, fixture.journalName), journal);
            const events: StorageEvent[] = [];
            let store: StateStore;
            try {
              store = await StateStore.open({
                directory: runDir,
                compaction: false,
                cipher,
                onEvent: (event) => events.push(event),
                loadFallback: withBackup ? async () => fixture.snapshot : undefined,
              });
            } catch (error) {
              assert.ok(error instanceof StorageError, `a non-storage error escaped: ${String(error)}`);
              outcomes.refused++;
              return;
            }
            try {
              const state = dump(store.durable?.state ?? new Map());
              assert.ok(fixture.prefixes.has(state), 'opened to a state that never existed');
              // A journal cut exactly at a record boundary is what a crash before those writes
              // leaves: indistinguishable, and allowed to be silent. Anything else must be reported.
              const cleanCut = snapshot.equals(fixture.snapshot) && fixture.journal.subarray(0, journal.length).equals(journal);
              if (state !== fixture.full && !cleanCut) assert.ok(events.length > 0, 'lost data without saying so');
              if (events.some((event) => event.type === 'quarantined')) {
                assert.ok(readdirSync(join(runDir, 'quarantine')).length > 0);
                outcomes.quarantined++;
              }
              await store.set('after', 'k', 1); // the store is usable after any recovery
              outcomes.opened++;
            } finally {
              await store.close();
            }
          },
        ),
        { numRuns: 1100 },
      );
      assert.ok(outcomes.opened > 0 && outcomes.quarantined > 0, JSON.stringify(outcomes));
    });
  }

  it('the pure decoders throw nothing but StorageErrors on any bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        scanJournal(Buffer.from(bytes));
        try {
          await decodeSnapshot(bytes, undefined);
        } catch (error) {
          assert.ok(error instanceof StorageError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
