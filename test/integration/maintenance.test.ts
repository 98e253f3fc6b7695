import * as assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { AuditEntry } from '../../src/core/runtime/auditFile';
import type { CleanupReport } from '../../src/core/runtime/runtimeCleanup';
import type { LifelineApi } from '../../src/extension';

async function api(): Promise<LifelineApi> {
  const extension = vscode.extensions.getExtension<LifelineApi>('lifeline.lifeline');
  assert.ok(extension);
  const activated = await extension.activate();
  assert.ok(await activated.whenQueueReady(), 'the queue opens');
  return activated;
}

/** Writes `bytes` bytes, last changed an hour ago: quiet enough for the cleanup. */
function oldFile(path: string, bytes: number): number {
  writeFileSync(path, Buffer.alloc(bytes, 0x62));
  const at = (Date.now() - 60 * 60_000) / 1000;
  utimesSync(path, at, at);
  return bytes;
}

describe('Clean Up Now and the audit log (in a real extension host)', () => {
  it('Clean Up Now removes known orphaned job files and reports exactly the bytes they held', async () => {
    const lifeline = await api();
    assert.ok(lifeline.storageDirectory);
    // Whatever earlier tests left that is eligible goes first, so the second run's figure is ours alone.
    await vscode.commands.executeCommand<CleanupReport>('lifeline.cleanUpNow');
    const jobsDir = join(lifeline.storageDirectory, 'jobs');
    mkdirSync(jobsDir, { recursive: true });
    const ghost = `it-orphan-${randomUUID()}`;
    const bytes =
      oldFile(join(jobsDir, `${ghost}.1.log`), 40_000) +
      oldFile(join(jobsDir, `${ghost}.1.journal`), 1_234) +
      oldFile(join(jobsDir, `${ghost}.2.log`), 777);
    const report = await vscode.commands.executeCommand<CleanupReport>('lifeline.cleanUpNow');
    assert.ok(report, 'the command returns its report');
    assert.deepEqual(report.orphanedJobs, { items: 1, files: 3, bytes });
    assert.equal(report.bytesFreed, bytes);
    for (const suffix of ['1.log', '1.journal', '2.log']) assert.ok(!existsSync(join(jobsDir, `${ghost}.${suffix}`)), `${suffix} is gone`);
  });

  it('Export Audit Log writes every action with its origin: this window, another extension, the cleanup', async () => {
    const lifeline = await api();
    const queue = lifeline.queue;
    assert.ok(queue);
    await vscode.commands.executeCommand('lifeline.pauseQueue');
    await queue.execute({ type: 'setPaused', paused: false }, { callerId: 'tests.caller' });
    const folder = mkdtempSync(join(tmpdir(), 'lifeline-audit-it-'));
    try {
      const target = vscode.Uri.file(join(folder, 'audit.jsonl'));
      const count = await vscode.commands.executeCommand<number>('lifeline.exportAuditLog', { target });
      const entries = readFileSync(target.fsPath, 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as AuditEntry);
      assert.equal(entries.length, count);
      const paused = entries.filter((entry) => entry.action === 'setPaused');
      const byWindow = paused.findLast((entry) => entry.detail?.paused === true);
      const byExtension = paused.findLast((entry) => entry.detail?.paused === false);
      assert.equal(byWindow?.origin?.kind, 'window');
      assert.equal(byWindow?.origin?.id, lifeline.activationId, 'the window is named by its activation');
      assert.deepEqual(byExtension?.origin, { kind: 'extension', id: 'tests.caller', label: 'extension API' });
      const cleanup = entries.findLast((entry) => entry.action === 'cleanup.run');
      assert.equal(cleanup?.origin?.id, lifeline.activationId, 'Clean Up Now is recorded as this window’s');
      assert.ok(
        entries.every((entry, index) => index === 0 || (entries[index - 1]?.at ?? 0) <= entry.at),
        'oldest first',
      );
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
