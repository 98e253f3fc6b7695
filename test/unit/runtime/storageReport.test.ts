import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { analyseSurvival } from '../../../src/core/runtime/jobSurvival';
import type { StorageReport, StoreHealthReport } from '../../../src/core/runtime/storageReport';
import { auditReader, collectStorageReport } from '../../../src/core/runtime/storageReport';
import { storageReportMarkdown } from '../../../src/core/runtime/storageReportText';
import type { WorkspaceRuntime } from '../../../src/core/runtime/workspaceRuntime';
import { wasmPath } from '../history/historyFixtures';
import { useRuntimeFolders } from './runtimeTestKit';

function store(report: StorageReport, name: string): StoreHealthReport {
  const found = report.stores.find((each) => each.name === name);
  assert.ok(found, `the report has the ${name} store; it has ${report.stores.map((each) => each.name).join(', ')}`);
  return found;
}

/** Every file under `directory` with its bytes, to prove a check changed nothing. */
function filesOf(directory: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && !entry.name.startsWith('queue.lease')) files.set(path, readFileSync(path).toString('base64'));
    }
  };
  walk(directory);
  return files;
}

function live(runtime: WorkspaceRuntime, deep = false): Promise<StorageReport> {
  return collectStorageReport({
    storageDirectory: runtime.storageDirectory,
    liveStores: runtime.openStores(),
    listBackups: (options) => runtime.services.backups!.manager.list(options),
    events: runtime.storageEvents.events,
    deep,
    sqlWasmPath: wasmPath,
  });
}

describe('runtime: the Storage Health report (real files)', () => {
  const folders = useRuntimeFolders();

  it('reports each open store’s size, generation and durations, the backups, the lease this process holds, and no encryption', async () => {
    const runtime = await folders.open();
    await runtime.history.whenOpen();
    for (const paused of [true, false, true]) await runtime.queue.execute({ type: 'setPaused', paused });
    const backup = await runtime.services.backups!.checkSchedule();
    assert.ok(backup, 'a first backup is written at once');

    const report = await live(runtime, true);
    const queue = store(report, 'queue');
    assert.equal(queue.folder, 'queue');
    assert.equal(queue.check.status, 'ok', queue.check.problems.join('; '));
    assert.ok(queue.check.bytes > 0, 'its files’ size on disk');
    assert.equal(queue.check.generation, 1);
    assert.ok(queue.live, 'metrics from the store open in this process');
    assert.ok(queue.live.commits >= 3);
    assert.equal(queue.check.cleanClose, false, 'open now: its manifest is not a clean close');
    assert.equal(store(report, 'history').check.status, 'ok');
    assert.equal(report.backups.count, 1);
    assert.equal(report.backups.newest?.id, backup.id);
    assert.equal(report.backups.verified, true);
    assert.equal(report.backups.totalBytes, backup.fileSize);
    assert.equal(report.lease.state, 'held');
    assert.equal(report.lease.pid, process.pid);
    assert.equal(report.lease.thisProcess, true);
    assert.equal(report.encryption.encrypted, false);
    assert.deepEqual(report.events, []);

    const text = storageReportMarkdown(report);
    assert.match(text, /\| queue \| ok \|/);
    assert.match(text, /this window: pid \d+/);
    assert.match(text, /not encrypted/);
    assert.match(text, /1 backup\(s\)/);
  });

  it('finds a damaged journal without touching a file, then lists what opening set aside and what was lost', async () => {
    const first = await folders.open();
    for (const paused of [true, false, true, false]) await first.queue.execute({ type: 'setPaused', paused });
    await first.close();
    const queueDir = join(first.storageDirectory, 'queue');
    const journal = readdirSync(queueDir).find((name) => name.endsWith('.journal'));
    assert.ok(journal);
    const bytes = readFileSync(join(queueDir, journal));
    // A byte inside the acknowledged records, not the last: damage, not a torn tail.
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = bytes[middle]! ^ 0xff;
    writeFileSync(join(queueDir, journal), bytes);

    const before = filesOf(first.storageDirectory);
    const offline = await collectStorageReport({ storageDirectory: first.storageDirectory });
    const damaged = store(offline, 'queue');
    assert.equal(damaged.check.status, 'damaged');
    assert.ok(
      damaged.check.problems.some((problem) => problem.includes(journal)),
      `the problem names the journal: ${damaged.check.problems.join('; ')}`,
    );
    assert.equal(damaged.live, undefined, 'no store is open in this process');
    assert.equal(offline.lease.state, 'none', 'the runtime released the lease when it closed');
    assert.deepEqual(filesOf(first.storageDirectory), before, 'the check changed no file');

    const second = await folders.open();
    const after = await live(second);
    assert.ok(after.events.length > 0, 'the damage found while the queue opened is listed');
    assert.ok(
      after.events.some((event) => event.store === 'queue' && event.lost !== undefined),
      `what was lost is said: ${JSON.stringify(after.events)}`,
    );
    const quarantined = store(after, 'queue').quarantine;
    assert.ok(quarantined.length > 0, 'the file set aside is listed');
    assert.ok(
      quarantined.every((file) => file.original.startsWith('queue.')),
      JSON.stringify(quarantined),
    );
    assert.equal(store(after, 'queue').check.status, 'ok', 'the reopened store verifies');
    const text = storageReportMarkdown(after);
    assert.match(text, /## Damage, repairs and quarantine/);
    assert.ok(text.includes(quarantined[0]!.name));
    assert.ok(statSync(join(queueDir, 'quarantine')).isDirectory());
  });

  it('shows what running jobs survive and the newest audit entries when it is given them', async () => {
    const runtime = await folders.open();
    const survival = analyseSurvival({
      platform: 'linux',
      hostCgroup: '0::/system.slice/code-server@me.service\n',
      supervisorCgroups: [],
      initName: 'systemd',
      logindConfigs: [],
      lingering: undefined,
      sessionId: undefined,
      whenVSCodeCloses: 'finish',
      stopGraceSeconds: 0,
      separateScopeAvailable: true,
      separateScopeEnabled: false,
    });
    const entries = [{ at: 1, store: 'queue', action: 'enqueue', detail: { origin: 'terminal' } }];
    const report = await collectStorageReport({
      storageDirectory: runtime.storageDirectory,
      survival,
      audit: auditReader({ recent: async () => entries }),
    });
    assert.deepEqual(report.audit, entries);
    const text = storageReportMarkdown(report);
    assert.match(text, /## What running jobs survive on this machine/);
    assert.match(text, /\| Restart of the service that runs VS Code’s server \| \*\*stop\*\* \(resumable\) \|/);
    assert.match(text, /lifeline\.supervisors\.scope/);
    assert.match(text, /\| enqueue \| \{"origin":"terminal"\} \|/);
    assert.equal(auditReader(undefined), undefined, 'no audit log: no section');
  });
});
