/**
 * A child process for the crash tests: appends entries to a history on the durable log and prints
 * `ack <jobId>` once each is acknowledged, while compacting or archiving, until it is killed.
 * Usage: node crashChild.js <dir> <mode: compact|archive|archiveBig> <firstIndex> [crashAt: beforeJournalRemoval|beforeDrop|midDrop]
 */
import { promises as fs, writeSync } from 'node:fs';
import { ActiveHistory } from '../../../src/core/history/activeHistory';
import type { UnsequencedRecord } from '../../../src/core/history/historyLog';
import { JobHistory } from '../../../src/core/history/jobHistory';
import { makeEntry, wasmPath } from './historyFixtures';

const [dir = '', mode = 'compact', first = '1', crashAt = ''] = process.argv.slice(2);

// Kills this process with SIGKILL at an exact point of the protocol, to test the worst moments.
if (crashAt === 'beforeJournalRemoval') {
  // Compaction: the new snapshot is written and renamed into place, the journals it covers are not yet removed.
  const rm = fs.rm.bind(fs);
  fs.rm = async (path, options) => {
    if (/history\.\d+\.journal$/.test(String(path))) process.kill(process.pid, 'SIGKILL');
    return rm(path, options);
  };
}
let drops = 0;
const commit = ActiveHistory.prototype.commit;
ActiveHistory.prototype.commit = function (this: ActiveHistory, records: readonly UnsequencedRecord[]) {
  if (records.some((r) => r.t === 'drop')) {
    drops++;
    // beforeDrop: shards and index sealed, nothing dropped. midDrop: the first slice of a large drop landed.
    if (crashAt === 'beforeDrop' || (crashAt === 'midDrop' && drops === 2)) process.kill(process.pid, 'SIGKILL');
  }
  return commit.call(this, records);
};

async function main(): Promise<void> {
  const archive = mode !== 'compact';
  const big = mode === 'archiveBig';
  const { history } = await JobHistory.open({
    directory: dir,
    wasmPath,
    maxActiveEntries: archive ? 20 : 100_000,
    archiveMargin: big ? 500 : 5,
    archiveBatchSize: big ? 500 : 10,
    maxShardBytes: 16 * 1024,
    compactAfterBytes: archive ? 1024 * 1024 : 4 * 1024,
  });
  writeSync(1, 'ready\n');
  let compacting = false;
  for (let i = Number(first); ; i++) {
    await history.append(makeEntry(i));
    writeSync(1, `ack ${makeEntry(i).jobId}\n`);
    if (!archive && !compacting) {
      compacting = true;
      void history.compact().finally(() => (compacting = false));
    }
  }
}

main().catch((error: unknown) => {
  writeSync(2, `crash child failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(3);
});
