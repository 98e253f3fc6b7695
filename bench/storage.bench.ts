import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AesGcmCipher, generateKey } from '../src/core/storage/aesGcmCipher';
import type { RecordCipher } from '../src/core/storage/cipher';
import { StateStore } from '../src/core/storage/stateStore';
import type { BenchContext, BenchFigure, BenchSuite } from './harness';
import { percentile } from './harness';

const valueOf = (seed: number): string => `${seed}:`.padEnd(1000, 'v'); // about 1 KB of JSON

async function fillStore(
  directory: string,
  keys: number,
  journalRecords: number,
  log: (message: string) => void,
  cipher?: RecordCipher,
): Promise<void> {
  const store = await StateStore.open({ directory, compaction: false, cipher });
  for (let start = 0; start < keys; start += 1000) {
    const batch = [];
    for (let index = start; index < Math.min(keys, start + 1000); index++) {
      batch.push({ namespace: 'bench', key: `key${index}`, value: valueOf(index) });
    }
    await store.batch(batch);
  }
  await store.durable?.compact();
  for (let index = 0; index < journalRecords; index++) await store.set('bench', `key${index % keys}`, valueOf(-index));
  log(`filled ${keys} keys, ${journalRecords} journal records`);
  await store.close();
}

/**
 * The floor and the stores are measured interleaved, set by set, in one loop, and the floor is
 * synced the same way the store syncs (fs.promises FileHandle.datasync): fdatasync latency on
 * these virtual disks moves a lot from pass to pass (docs/platform.md).
 * Stores run with compaction off here so that each sample is the commit path alone.
 */
async function run(context: BenchContext): Promise<BenchFigure[]> {
  const samples = Math.max(50, Math.round(1000 * context.scale));
  const bigKeys = Math.round(100_000 * context.scale);
  const bigJournal = Math.round(10_000 * context.scale);
  const smallDir = join(context.scratchDir, 'small');
  const bigDir = join(context.scratchDir, 'big');
  await fillStore(smallDir, 1000, 0, context.log);
  await fillStore(bigDir, bigKeys, bigJournal, context.log);
  // The workspace state store as the runtime opens it with encryption on (RuntimeState: the key's AesGcmCipher).
  const cipher = new AesGcmCipher(generateKey());
  const sealedDir = join(context.scratchDir, 'sealed');
  await fillStore(sealedDir, 1000, 0, context.log, cipher);

  const opens: number[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const started = performance.now();
    const store = await StateStore.open({ directory: bigDir, compaction: false });
    opens.push(performance.now() - started);
    await store.close();
  }

  const floorFile = await fs.open(join(context.scratchDir, 'floor.bin'), 'w');
  const small = await StateStore.open({ directory: smallDir, compaction: false });
  const big = await StateStore.open({ directory: bigDir, compaction: false });
  const sealed = await StateStore.open({ directory: sealedDir, compaction: false, cipher });
  const floor: number[] = [];
  const sealed1k: number[] = [];
  const small1k: number[] = [];
  const big100k: number[] = [];
  const batch100: number[] = [];
  const kilobyte = Buffer.alloc(1024, 0x61);
  let position = 0;
  try {
    for (let index = 0; index < samples; index++) {
      let started = performance.now();
      await floorFile.write(kilobyte, 0, kilobyte.length, position);
      await floorFile.datasync();
      position += kilobyte.length;
      floor.push(performance.now() - started);

      started = performance.now();
      await small.set('bench', `key${index % 1000}`, valueOf(index));
      small1k.push(performance.now() - started);

      started = performance.now();
      await sealed.set('bench', `key${index % 1000}`, valueOf(index));
      sealed1k.push(performance.now() - started);

      started = performance.now();
      await big.set('bench', `key${(index * 97) % bigKeys}`, valueOf(index));
      big100k.push(performance.now() - started);

      if (index % 10 === 0) {
        const operations = Array.from({ length: 100 }, (_, offset) => ({
          namespace: 'bench',
          key: `key${(index + offset) % 1000}`,
          value: valueOf(index + offset),
        }));
        started = performance.now();
        await small.batch(operations);
        batch100.push(performance.now() - started);
      }
    }
  } finally {
    await floorFile.close();
    await small.close();
    await big.close();
    await sealed.close();
  }
  const floorP99 = percentile(floor, 99);
  const smallP99 = percentile(small1k, 99);
  const note = `${samples} interleaved samples`;
  return [
    { name: 'storage.fsyncFloor.p50Ms', value: percentile(floor, 50), unit: 'ms', note: '1 KB append + fdatasync' },
    { name: 'storage.fsyncFloor.p99Ms', value: floorP99, unit: 'ms', note: '1 KB append + fdatasync' },
    { name: 'storage.durableWrite.p50Ms', value: percentile(small1k, 50), unit: 'ms', note: '1 KB set(), 1,000 keys' },
    { name: 'storage.durableWrite.p99Ms', value: smallP99, unit: 'ms', note: '1 KB set(), 1,000 keys' },
    { name: 'storage.durableWrite.ratioP99', value: smallP99 / floorP99, unit: 'ratio', target: { max: 2 }, note },
    { name: 'encryption.durableWrite.p99Ms', value: percentile(sealed1k, 99), unit: 'ms', note: '1 KB set(), 1,000 keys, AES-256-GCM' },
    {
      name: 'encryption.durableWrite.ratioP99',
      value: percentile(sealed1k, 99) / floorP99,
      unit: 'ratio',
      target: { max: 2.5 },
      note: `encrypted 1 KB set() over the fsync floor, ${note}`,
    },
    {
      name: 'encryption.overhead.ratioP50',
      value: percentile(sealed1k, 50) / percentile(small1k, 50),
      unit: 'ratio',
      note: 'encrypted over plain 1 KB set(), same run',
    },
    {
      name: 'storage.sizeGrowth.p99Ms',
      value: percentile(big100k, 99),
      unit: 'ms',
      note: `1 KB set(), ${bigKeys.toLocaleString('en')} keys`,
    },
    {
      name: 'storage.sizeGrowth.ratioP99',
      value: percentile(big100k, 99) / smallP99,
      unit: 'ratio',
      target: { max: 1.2 },
      note: `${bigKeys.toLocaleString('en')} keys over 1,000`,
    },
    {
      name: 'storage.open100k.ms',
      value: percentile(opens, 50),
      unit: 'ms',
      note: `${bigKeys.toLocaleString('en')} keys of 1 KB + ${bigJournal.toLocaleString('en')} journal records, median of 3`,
    },
    {
      name: 'storage.batch100.p99Ms',
      value: percentile(batch100, 99),
      unit: 'ms',
      note: `atomic batch of 100 x 1 KB, ${batch100.length} samples`,
    },
  ];
}

export const suite: BenchSuite = { name: 'storage', run };
