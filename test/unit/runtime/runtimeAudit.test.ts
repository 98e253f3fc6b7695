import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEntry } from '../../../src/core/runtime/auditFile';
import { AUDIT_FILE_NAME, AuditFile } from '../../../src/core/runtime/auditFile';
import type { RuntimeAudit } from '../../../src/core/runtime/runtimeAudit';
import type { WorkspaceRuntime } from '../../../src/core/runtime/workspaceRuntime';
import { JobError } from '../../../src/core/queue/jobErrors';
import { ProcessRunner } from '../../../src/core/queue/processRunner';
import { DrivenProcess } from '../drivenProcess';
import { useRuntimeFolders } from './runtimeTestKit';

function auditOf(runtime: WorkspaceRuntime): RuntimeAudit {
  assert.ok(runtime.services.audit, 'the runtime has an audit log');
  return runtime.services.audit;
}

/** What the audit file itself holds (not the service's memory). */
function fileIds(runtime: WorkspaceRuntime): string[] {
  const text = (() => {
    try {
      return readFileSync(join(runtime.storageDirectory, 'audit', AUDIT_FILE_NAME), 'utf8');
    } catch {
      return '';
    }
  })();
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as AuditEntry).id);
}

const inProcess = { createRunner: () => new ProcessRunner() };

describe('RuntimeAudit: every queue command with where it came from', () => {
  const folders = useRuntimeFolders();

  it('records commands from the holder’s window, a client’s terminal and another extension, newest first', async () => {
    const holder = await folders.open({ origin: { kind: 'window', id: 'activation-1', label: 'window A' }, overrides: inProcess });
    const client = await folders.open({ origin: { kind: 'terminal', id: 'tty-1' }, overrides: inProcess });
    assert.equal(client.queue.role, 'client');
    await holder.queue.execute({ type: 'setPaused', paused: true });
    const { jobId } = await client.queue.execute({ type: 'enqueue', definition: { name: 'build', command: 'true' }, group: 'ci' });
    await holder.queue.execute({ type: 'setPriority', jobId: jobId as string, priority: 5 }, undefined, {
      kind: 'extension',
      id: 'someone.else',
    });
    await auditOf(holder).flush();
    const entries = (await auditOf(client).recent(10)).filter((entry) => entry.origin?.kind !== 'runtime');
    assert.deepEqual(
      entries.map((entry) => [entry.action, entry.origin, entry.jobId, entry.job, entry.detail]),
      [
        ['setPriority', { kind: 'extension', id: 'someone.else' }, jobId, 'build', { priority: 5 }],
        ['enqueue', { kind: 'terminal', id: 'tty-1' }, jobId, 'build', { group: 'ci' }],
        ['setPaused', { kind: 'window', id: 'activation-1', label: 'window A' }, undefined, undefined, { paused: true }],
      ],
      'a client reads the same log',
    );
    assert.deepEqual(
      (await auditOf(holder).recent(1)).map((entry) => entry.action),
      ['setPriority'],
    );
  });

  it('refuses a command whose origin is not one it knows, and changes nothing', async () => {
    const runtime = await folders.open({ overrides: inProcess });
    const queue = runtime.queue.localQueue;
    assert.ok(queue);
    await assert.rejects(
      queue.execute({ commandId: 'bad-origin-1', command: { type: 'setPaused', paused: true }, origin: { kind: 'hacker', id: 'x' } }),
      (error: unknown) => JobError.is(error, 'invalidCommand'),
    );
    assert.equal(runtime.queue.flags?.paused, false);
    await auditOf(runtime).flush();
    assert.deepEqual(
      (await auditOf(runtime).recent(5)).filter((entry) => entry.action === 'setPaused'),
      [],
      'a refused command is not in the log',
    );
  });

  it('records other actions durably with the process’s own origin, and exports every entry as JSON lines', async () => {
    const runtime = await folders.open({ role: 'cli', overrides: inProcess });
    const entry = await auditOf(runtime).record({ action: 'backup.create', target: 'backup-1.llbackup', detail: { bytes: 10 } });
    assert.deepEqual(entry.origin, { kind: 'terminal' }, 'the role’s origin');
    assert.deepEqual(fileIds(runtime), [entry.id], 'on disk when record resolves');
    await runtime.queue.execute({ type: 'setAutoRun', autoRun: false });
    const target = join(runtime.storageDirectory, 'export.jsonl');
    const count = await auditOf(runtime).exportTo(target);
    const lines = readFileSync(target, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as AuditEntry);
    assert.equal(lines.length, count);
    assert.deepEqual(
      lines.filter((line) => line.origin?.kind !== 'runtime').map((line) => line.action),
      ['backup.create', 'setAutoRun'],
    );
  });
});

describe('RuntimeAudit: an acknowledged command’s entry survives a crash', () => {
  const folders = useRuntimeFolders();

  it('completes the audit file from the queue’s journal after the process was killed right after the acknowledgement', async () => {
    // The folder as the runtime opens it; the child opens the same one.
    const probe = await folders.open({ overrides: inProcess });
    const storageDirectory = probe.storageDirectory;
    await probe.close();
    const child = new DrivenProcess(
      'crash child',
      spawn(
        process.execPath,
        [join(__dirname, 'fixtures', 'auditCrashChild.js'), JSON.stringify({ storageDirectory, workspace: folders.workspace })],
        {
          stdio: ['pipe', 'pipe', 'pipe'],
        },
      ),
    );
    const { acknowledged } = (await child.next((message) => Array.isArray(message.acknowledged))) as { acknowledged: string[] };
    await child.exited;
    const auditPath = join(storageDirectory, 'audit', AUDIT_FILE_NAME);
    const before = existsSync(auditPath) ? readFileSync(auditPath, 'utf8') : '';
    assert.ok(
      acknowledged.every((id) => !before.includes(id)),
      'the child died before its audit file had the commands: this test shows the recovery path',
    );
    const runtime = await folders.open({ overrides: inProcess });
    const onDisk = fileIds(runtime);
    const entries = (await auditOf(runtime).recent(10)).filter((entry) => entry.id.startsWith('crash-command'));
    assert.deepEqual(
      entries.map((entry) => entry.id).reverse(),
      acknowledged,
      `every acknowledged command is in the log (the file had ${JSON.stringify(onDisk)})`,
    );
    assert.ok(entries.every((entry) => entry.origin?.kind === 'terminal' && entry.origin.id === 'tty-7'));
  });

  it('keeps the newest commands’ audit records through a compaction of the queue', async () => {
    const runtime = await folders.open({ overrides: inProcess });
    await runtime.queue.execute({ type: 'setPaused', paused: true }, 'compacted-1');
    await runtime.queue.execute({ type: 'setConcurrency', limit: 4 }, 'compacted-2');
    await auditOf(runtime).flush();
    await runtime.queue.localQueue?.compact();
    await runtime.close();
    // As if the audit file had never had them (a power cut before its write reached the disk).
    truncateSync(join(runtime.storageDirectory, 'audit', AUDIT_FILE_NAME), 0);
    const reopened = await folders.open({ overrides: inProcess });
    assert.deepEqual(
      (await auditOf(reopened).recent(10)).map((entry) => entry.id).filter((id) => id.startsWith('compacted')),
      ['compacted-2', 'compacted-1'],
    );
  });
});

describe('AuditFile: bounded and readable after a torn write', () => {
  let directory = '';
  beforeEach(() => (directory = mkdtempSync(join(tmpdir(), 'lifeline-audit-'))));
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  const entry = (index: number): AuditEntry => ({
    id: `e${index}`,
    at: index,
    action: 'enqueue',
    origin: { kind: 'window' },
    detail: { pad: 'x'.repeat(60) },
  });

  it('rotates at its size, keeps the newest files, and reads them oldest first', async () => {
    const file = new AuditFile({ directory, maxBytes: 1000, keepRotated: 2 });
    for (let index = 0; index < 60; index++) await file.append([entry(index)], { sync: false });
    const names = readdirSync(directory).sort();
    assert.deepEqual(names, ['audit.1.jsonl', 'audit.2.jsonl', 'audit.jsonl']);
    for (const name of names) assert.ok(statSync(join(directory, name)).size <= 1000, `${name} is within its size`);
    const ids = (await file.read()).map((read) => Number(read.id.slice(1)));
    assert.equal(ids.at(-1), 59);
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
      'in the order written',
    );
    assert.ok(ids.length < 60, 'the oldest were dropped');
  });

  it('skips a line cut short by a crash and a line that is not an entry', async () => {
    const file = new AuditFile({ directory });
    await file.append([entry(1), entry(2)]);
    appendFileSync(join(directory, AUDIT_FILE_NAME), '{"id":"e3","at":3,"act');
    writeFileSync(join(directory, 'audit.1.jsonl'), '{"something":"else"}\n');
    assert.deepEqual(
      (await file.read()).map((read) => read.id),
      ['e1', 'e2'],
    );
  });
});
