/**
 * A child process for the crash tests: appends entries to a file-backed history and prints
 * `ack <jobId>` once each is acknowledged, while compacting or archiving, until it is killed.
 * Usage: node crashChild.js <dir> <mode: compact|archive|archiveBig> <firstIndex> [crashAt: beforeTruncate|beforeDrop|midDrop]
 */
import { writeSync } from 'node:fs';
import { FileHistoryLog } from '../../../src/core/history/fileHistoryLog';
import type { HistoryLog, HistoryRecord } from '../../../src/core/history/historyLog';
import { JobHistory } from '../../../src/core/history/jobHistory';
import { makeEntry, wasmPath } from './historyFixtures';

const [dir = '', mode = 'compact', first = '1', crashAt = ''] = process.argv.slice(2);

let drops = 0;

/** Kills this process with SIGKILL at an exact point of the protocol, to test the worst moment. */
function crashingLog(log: FileHistoryLog): HistoryLog {
  return Object.assign(Object.create(log) as FileHistoryLog, {
    async truncate(upToSeq: number) {
      if (crashAt === 'beforeTruncate') process.kill(process.pid, 'SIGKILL');
      return log.truncate(upToSeq);
    },
    async append(records: readonly HistoryRecord[]) {
      if (records.some((r) => r.t === 'drop')) {
        drops++;
        // beforeDrop: shards and index sealed, nothing dropped. midDrop: the first slice of a large drop landed.
        if (crashAt === 'beforeDrop' || (crashAt === 'midDrop' && drops === 2)) process.kill(process.pid, 'SIGKILL');
      }
      return log.append(records);
    },
  });
}

async function main(): Promise<void> {
  const log = crashingLog(new FileHistoryLog(dir));
  const archive = mode !== 'compact';
  const big = mode === 'archiveBig';
  const { history } = await JobHistory.open({
    directory: dir,
    log,
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
