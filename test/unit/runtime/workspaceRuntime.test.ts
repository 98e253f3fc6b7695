import * as assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HistoryEntry } from '../../../src/core/history/historyEntry';
import type { RuntimeReport } from '../../../src/core/runtime/runtimeReports';
import type { WorkspaceRuntime } from '../../../src/core/runtime/workspaceRuntime';
import { until, useRuntimeFolders } from './runtimeTestKit';

function recent(runtime: WorkspaceRuntime): readonly HistoryEntry[] {
  return runtime.history.history?.page({ sort: 'finishedAt', direction: 'desc', limit: 10 }).entries ?? [];
}

describe('WorkspaceRuntime: one workspace opened from plain Node', () => {
  const folders = useRuntimeFolders();

  it('runs a job in a supervisor, records it in the history, and a runtime opened later sees both', async () => {
    const first = await folders.open({ options: { concurrency: 1 } });
    assert.equal(first.queue.role, 'holder');
    assert.ok(await first.history.whenOpen(), 'the holder opens the history');
    const { jobId } = await first.queue.execute({ type: 'enqueue', definition: { name: 'greet', command: 'echo hello from plain node' } });
    await until(
      first.history.onDidChange,
      () => recent(first).some((entry) => entry.jobId.startsWith(`${jobId}@`)),
      'the job is in the history',
    );
    const [entry] = recent(first);
    assert.equal(entry?.name, 'greet');
    assert.equal(entry?.state, 'succeeded');
    assert.match(entry?.outputTail ?? '', /hello from plain node/, 'the output tail is read through the supervisors’ log');
    await first.close();
    assert.equal(first.history.history, undefined, 'closing closes the history');

    const second = await folders.open();
    assert.equal(second.queue.getJob(jobId as string)?.state, 'succeeded');
    await second.history.whenOpen();
    assert.deepEqual(
      recent(second).map((saved) => [saved.jobId, saved.state]),
      [[entry?.jobId, 'succeeded']],
    );
  });

  it('holds the history only while it holds the queue: a second runtime is a client until the first closes', async () => {
    const first = await folders.open();
    await first.history.whenOpen();
    const second = await folders.open();
    assert.equal(second.queue.role, 'client');
    assert.equal(await second.history.whenOpen(), undefined, 'a client has no history');
    await first.close();
    await until(second.queue.onDidChangeRole, () => second.queue.role === 'holder', 'the second runtime takes the queue over');
    assert.ok(await second.history.whenOpen(), 'the new holder opens the history');
  });

  it('applies the concurrency option when it holds the queue, and again when the option changes', async () => {
    const runtime = await folders.open({ options: { concurrency: 3 } });
    await until(runtime.queue.onDidChange, () => runtime.queue.flags?.concurrency === 3, 'concurrency 3');
    runtime.updateOptions({ concurrency: 5 });
    await until(runtime.queue.onDidChange, () => runtime.queue.flags?.concurrency === 5, 'concurrency 5');
    assert.equal(runtime.options.concurrency, 5);
  });
});

describe('WorkspaceRuntime: reports', () => {
  const folders = useRuntimeFolders();

  it('tells the listener of its context about damage found while the queue opens', async () => {
    const first = await folders.open();
    await first.queue.execute({ type: 'setPaused', paused: true });
    await first.close();
    const snapshot = join(first.storageDirectory, 'queue', 'queue.snapshot');
    writeFileSync(snapshot, 'not a snapshot');
    const reports: RuntimeReport[] = [];
    await folders.open({ onDidReport: (report) => reports.push(report) });
    assert.ok(
      reports.some((report) => report.type === 'queueStorage' && report.event.type === 'quarantined'),
      `a quarantined queue file is reported, got ${JSON.stringify(reports.map((report) => report.type))}`,
    );
  });

  it('reports a history that cannot open, and does not try it again', async () => {
    const reports: RuntimeReport[] = [];
    const runtime = await folders.open({
      sqlWasmPath: join(folders.workspace, 'missing.wasm'),
      onDidReport: (report) => reports.push(report),
    });
    assert.equal(await runtime.history.whenOpen(), undefined);
    assert.equal(runtime.history.openFailed, true);
    assert.equal(reports.filter((report) => report.type === 'historyOpenFailed').length, 1);
  });
});
