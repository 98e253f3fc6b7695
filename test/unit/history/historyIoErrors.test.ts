import * as assert from 'node:assert/strict';
import type { JobHistory } from '../../../src/core/history/jobHistory';
import type { Code, Scenario } from '../storage/ioerrLoop';
import { ioerrLoop } from '../storage/ioerrLoop';
import { makeEntry, openHistory } from './historyFixtures';

/**
 * The ioerr loop (ioerrLoop.ts) over the history: appends and a compaction while call N fails.
 * Each failure is typed; with the fault gone the same open history takes the next append, and a
 * reopen holds exactly what memory holds, every acknowledged entry included.
 */
function historyScenario(): Scenario {
  let dir = '';
  let history: JobHistory | undefined;
  const acknowledged: string[] = [];
  const ids = (h: JobHistory) => h.page({ direction: 'asc', limit: 100 }).entries.map((entry) => entry.jobId);
  const append = async (i: number) => {
    await history?.append(makeEntry(i));
    acknowledged.push(makeEntry(i).jobId);
  };
  return {
    async setup(d) {
      dir = d;
      history = (await openHistory(dir)).history;
      await append(1);
    },
    async run() {
      await append(2);
      await history?.compact();
      await append(3);
    },
    async verify() {
      if (!history) throw new Error('no history');
      await append(4);
      const inMemory = ids(history);
      await history.close();
      history = (await openHistory(dir)).history;
      assert.deepEqual(ids(history), inMemory, 'the reopened history differs from the one that stayed open');
      for (const id of acknowledged) assert.ok(inMemory.includes(id), `acknowledged entry ${id} is missing`);
    },
    close: async () => history?.close(),
  };
}

describe('history: an I/O error at every step (the ioerr loop)', function () {
  this.timeout(120_000);
  for (const code of ['EIO', 'ENOSPC'] as Code[]) {
    it(`append and compact: fails call N with ${code} for every N, then completes`, async () => {
      assert.ok((await ioerrLoop(code, historyScenario)) > 1);
    });
  }
});
