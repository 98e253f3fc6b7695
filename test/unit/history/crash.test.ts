import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeEntry, openHistory, tempDir } from './historyFixtures';

const child = join(__dirname, 'crashChild.js');

/** Runs the child until it has acknowledged `acks` entries (or kills itself), then SIGKILLs it. */
function runChild(
  dir: string,
  mode: string,
  first: number,
  acks: number,
  crashAt = '',
): Promise<{ acked: string[]; signal: string | null }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, dir, mode, String(first), crashAt], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acked: string[] = [];
    let buffer = '';
    let stderr = '';
    proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    proc.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) if (line.startsWith('ack ')) acked.push(line.slice(4));
      if (acked.length >= acks) proc.kill('SIGKILL');
    });
    proc.on('error', reject);
    proc.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child exited with ${code}: ${stderr}`));
      else resolve({ acked, signal });
    });
  });
}

/** Every job id in the history, active and archived, with how often it shows. */
async function census(dir: string): Promise<Map<string, number>> {
  const { history, report } = await openHistory(dir, { maxActiveEntries: 100_000 });
  // A kill is never damage: at most a torn tail is cut, and nothing goes to quarantine.
  assert.equal(report.lost, false, JSON.stringify(report.storageEvents));
  assert.ok(report.storageEvents.every((event) => event.type === 'journalTailCut'));
  const counts = new Map<string, number>();
  const add = (id: string): void => void counts.set(id, (counts.get(id) ?? 0) + 1);
  let cursor: string | undefined;
  do {
    const page = history.page({ limit: 1000, cursor });
    page.entries.forEach((e) => add(e.jobId));
    cursor = page.nextCursor;
  } while (cursor);
  do {
    const page = await history.archivePage({ limit: 1000, cursor });
    assert.deepEqual(page.lost, []);
    page.entries.forEach((e) => add(e.entry.jobId));
    cursor = page.nextCursor;
  } while (cursor);
  await history.close();
  return counts;
}

function assertNoLossNoDuplicate(counts: Map<string, number>, acked: readonly string[]): void {
  for (const id of acked) assert.equal(counts.get(id), 1, `${id} shows ${counts.get(id) ?? 0} times`);
  for (const [id, n] of counts) assert.equal(n, 1, `${id} shows ${n} times`);
}

describe('history crash safety (SIGKILL)', function () {
  this.timeout(30_000);
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir('crash')));
  afterEach(() => dir.remove());

  for (const mode of ['compact', 'archive']) {
    it(`loses no acknowledged entry and shows none twice when killed at random during ${mode === 'compact' ? 'compaction' : 'archival'}`, async () => {
      const acked: string[] = [];
      let next = 1;
      for (const target of [37, 83, 61]) {
        const run = await runChild(dir.path, mode, next, target);
        acked.push(...run.acked);
        // Entries past the last ack may or may not have landed; start well beyond them.
        next += run.acked.length + 50;
        assertNoLossNoDuplicate(await census(dir.path), acked);
      }
    });
  }

  it('finishes a compaction killed between writing the snapshot and removing the journals it covers', async () => {
    const run = await runChild(dir.path, 'compact', 1, 1_000_000, 'beforeJournalRemoval');
    assert.ok(run.acked.length > 0);
    assert.ok(existsSync(join(dir.path, 'history.snapshot')));
    assert.ok(readdirSync(dir.path).filter((name) => name.endsWith('.journal')).length >= 2);
    assertNoLossNoDuplicate(await census(dir.path), run.acked);
    // The next open dropped the journal below the previous generation, which stays to repair from.
    assert.equal(readdirSync(dir.path).filter((name) => name.endsWith('.journal')).length, 2);
    assert.ok(existsSync(join(dir.path, 'history.snapshot.previous')));
  });

  it('finishes an archival killed half way through dropping a large batch', async () => {
    const run = await runChild(dir.path, 'archiveBig', 1, 1_000_000, 'midDrop');
    assert.ok(run.acked.length >= 520);
    const { history, report } = await openHistory(dir.path, { maxActiveEntries: 20 });
    assert.deepEqual(report.reconciledBatches, [1]);
    assert.equal(history.archive.count, 500);
    await history.close();
    assertNoLossNoDuplicate(await census(dir.path), run.acked);
  });

  it('finishes an archival killed after sealing the shards and index but before the drop', async () => {
    const run = await runChild(dir.path, 'archive', 1, 1_000_000, 'beforeDrop');
    assert.ok(run.acked.length >= 26);
    const { history, report } = await openHistory(dir.path, { maxActiveEntries: 20 });
    assert.deepEqual(report.reconciledBatches, [1]);
    assert.ok(history.archive.count >= 6);
    await history.close();
    assertNoLossNoDuplicate(await census(dir.path), run.acked);
    assert.ok(run.acked.includes(makeEntry(1).jobId));
  });
});
