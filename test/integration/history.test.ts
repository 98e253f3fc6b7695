import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { HistoryEntry } from '../../src/core/history/historyEntry';
import type { LifelineApi, LifelineHistoryApi } from '../../src/extension';

async function api(): Promise<LifelineApi> {
  const extension = vscode.extensions.getExtension<LifelineApi>('lifeline.lifeline');
  assert.ok(extension);
  return extension.activate();
}

async function historyApi(): Promise<LifelineHistoryApi> {
  const history = await (await api()).whenHistoryReady();
  assert.ok(history, 'this window holds the queue, so it holds the history');
  return history;
}

/** Resolves once the history holds an entry of `name` that finished at or after `since`. */
function waitForEntry(history: LifelineHistoryApi, name: string, since: number, timeoutMs = 30_000): Promise<HistoryEntry> {
  return new Promise((resolve, reject) => {
    const find = (): HistoryEntry | undefined => history.recent(200).find((entry) => entry.name === name && entry.finishedAt >= since);
    const found = find();
    if (found) return resolve(found);
    const timer = setTimeout(() => {
      subscription.dispose();
      reject(new Error(`no history entry for "${name}"`));
    }, timeoutMs);
    const subscription = history.onDidChange(() => {
      const entry = find();
      if (!entry) return;
      clearTimeout(timer);
      subscription.dispose();
      resolve(entry);
    });
  });
}

describe('job history (in a real extension host)', () => {
  it('records a finished job with its exit code and the end of its output', async () => {
    const history = await historyApi();
    const since = Date.now() - 1;
    await vscode.commands.executeCommand('lifeline.runShellCommand', 'echo "the end of the output"; exit 3');
    const entry = await waitForEntry(history, 'echo "the end of the output"; exit 3', since);
    assert.equal(entry.state, 'failed');
    assert.equal(entry.exitCode, 3);
    assert.match(entry.outputTail ?? '', /the end of the output/);
    assert.equal(entry.command, 'echo "the end of the output"; exit 3');
  });

  it('records a succeeded pipeline with its stages', async () => {
    const history = await historyApi();
    const since = Date.now() - 1;
    await vscode.commands.executeCommand('lifeline.runJob', {
      name: 'history pipeline',
      tags: ['it'],
      stages: [
        { name: 'one', command: 'true' },
        { name: 'two', command: 'true' },
      ],
    });
    const entry = await waitForEntry(history, 'history pipeline', since);
    assert.equal(entry.state, 'succeeded');
    assert.deepEqual(
      entry.stages?.map((stage) => stage.name),
      ['one', 'two'],
    );
    assert.deepEqual(entry.tags, ['it']);
  });

  it("estimates a new job's duration from its earlier runs", async () => {
    const history = await historyApi();
    const queue = await (await api()).whenQueueReady();
    assert.ok(queue);
    const since = Date.now() - 1;
    const command = 'sleep 0.2; echo estimated';
    const first = await vscode.commands.executeCommand<string>('lifeline.runShellCommand', command);
    assert.equal(queue.getJob(first)?.estimatedDurationMs, undefined, 'no earlier run to go by');
    await waitForEntry(history, command, since);
    const second = await vscode.commands.executeCommand<string>('lifeline.runShellCommand', command);
    const estimate = queue.getJob(second)?.estimatedDurationMs;
    assert.ok(estimate !== undefined && estimate >= 200, `estimated ${estimate} ms from a run that slept 200 ms`);
  });

  it('exports the history to CSV and JSON files', async () => {
    await historyApi();
    const dir = mkdtempSync(join(tmpdir(), 'lifeline-export-'));
    try {
      const csv = vscode.Uri.file(join(dir, 'history.csv'));
      const count = await vscode.commands.executeCommand<number>('lifeline.exportHistory', { target: csv, format: 'csv', scope: 'both' });
      assert.ok(count !== undefined && count >= 2, `exported ${count}`);
      const lines = readFileSync(csv.fsPath, 'utf8').trim().split('\r\n');
      assert.equal(lines.length, count + 1, 'a header and one line per entry');
      assert.match(lines.join('\n'), /history pipeline/);
      const json = vscode.Uri.file(join(dir, 'history.json'));
      await vscode.commands.executeCommand('lifeline.exportHistory', { target: json, format: 'json', scope: 'active' });
      const entries = JSON.parse(readFileSync(json.fsPath, 'utf8')) as { name: string }[];
      assert.ok(entries.some((entry) => entry.name === 'history pipeline'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('"Archive Old History Now" runs and keeps the recent history within its limit', async () => {
    await historyApi();
    const archived = await vscode.commands.executeCommand<number>('lifeline.archiveHistoryNow');
    assert.equal(archived, 0, 'a few entries are within the default limit of 100');
  });
});
