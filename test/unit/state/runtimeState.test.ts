import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { RuntimeReport } from '../../../src/core/runtime/runtimeReports';
import type { WorkspaceRuntime } from '../../../src/core/runtime/workspaceRuntime';
import { StateError } from '../../../src/core/state/stateErrors';
import type { StateChange } from '../../../src/core/state/extensionState';
import { useRuntimeFolders, until } from '../runtime/runtimeTestKit';

const noteSchema = z.object({ text: z.string(), done: z.boolean() });

function stateFiles(runtime: WorkspaceRuntime): string[] {
  const dir = join(runtime.storageDirectory, 'state');
  return existsSync(dir) ? readdirSync(dir) : [];
}

async function rejectsWith(promise: Promise<unknown>, reason: StateError['reason']): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(StateError.is(error, reason), `expected ${reason}, got ${String(error)}`);
    return true;
  });
}

describe('WorkspaceRuntime: the workspace state store follows the queue', () => {
  const folders = useRuntimeFolders();

  it('opens the store in <storage>/state while it holds the queue; a client has none until it takes the queue over', async () => {
    const first = await folders.open();
    const store = await first.services.stateStore?.whenOpen();
    assert.ok(store, 'the holder opens the state store');
    assert.ok(stateFiles(first).some((name) => name.startsWith('state.')), 'its files are in <storage>/state');
    const second = await folders.open();
    assert.equal(second.queue.role, 'client');
    assert.equal(await second.services.stateStore?.whenOpen(), undefined, 'a client does not open it (one writer)');
    await first.close();
    assert.equal(first.services.stateStore?.store, undefined, 'closed with the runtime');
    await until(second.queue.onDidChangeRole, () => second.queue.role === 'holder', 'the second runtime takes the queue over');
    assert.ok(await second.services.stateStore?.whenOpen(), 'the new holder opens it');
  });

  it('puts the state store in every backup, and a damaged store opens from the newest one with a report', async () => {
    const reports: RuntimeReport[] = [];
    const first = await folders.open();
    await first.history.whenOpen();
    const own = await first.openState('acme.notes');
    await own.set('n1', { text: 'kept by the backup' });
    const info = await first.services.backups?.backupNow('manual');
    assert.deepEqual(
      info?.parts.map((part) => part.name),
      ['queue', 'history', 'state'],
    );
    await own.set('n2', { text: 'only in the damaged snapshot' });
    const durable = first.services.stateStore?.store?.durable;
    await durable?.compact();
    await first.close();
    // Both the snapshot and the copy a compaction keeps of the one before: only the backup is left.
    for (const name of ['state.snapshot', 'state.snapshot.previous']) writeFileSync(join(first.storageDirectory, 'state', name), 'not a snapshot');
    const again = await folders.open({ onDidReport: (report) => reports.push(report) });
    const notes = await again.openState('acme.notes');
    assert.deepEqual(await notes.get('n1'), { text: 'kept by the backup' }, 'the backup brought the value back');
    const events = reports.flatMap((report) => (report.type === 'stateStorage' ? [report.event.type] : []));
    assert.ok(events.includes('quarantined'), `the damage is reported: ${events.join(', ')}`);
    assert.ok(events.includes('recoveredFromBackup'), `so is the backup it opened from: ${events.join(', ')}`);
  });
});

describe('openState: another extension’s namespace, from the holder or a client over the socket', () => {
  const folders = useRuntimeFolders();

  it('writes from a client reach the holder’s disk, both read them, and both hear the change', async () => {
    const first = await folders.open();
    const second = await folders.open();
    assert.equal(second.queue.role, 'client');
    const remote = await second.openState('acme.notes', { schema: noteSchema });
    const local = await first.openState('acme.notes', { schema: noteSchema });
    const heardLocally: StateChange[] = [];
    const heardRemotely: StateChange[] = [];
    local.onDidChange((change) => heardLocally.push(change));
    remote.onDidChange((change) => heardRemotely.push(change));

    await remote.set('n1', { text: 'from the client', done: false });
    assert.deepEqual(first.services.stateStore?.store?.get('acme.notes', 'n1'), { text: 'from the client', done: false }, 'in the holder’s store once the write resolved');
    assert.deepEqual(await local.get('n1'), { text: 'from the client', done: false });
    await local.batch([
      { key: 'n2', value: { text: 'from the holder', done: true } },
      { key: 'n1', delete: true },
    ]);
    assert.deepEqual(await remote.keys(), ['n2']);
    assert.equal(await remote.has('n1'), false);
    assert.deepEqual(await remote.get('n2'), { text: 'from the holder', done: true });
    assert.deepEqual(heardLocally.map((change) => change.keys), [['n1'], ['n2', 'n1']]);
    // The holder sends each notice before the reply that follows it on the same socket: the client has both by now.
    assert.deepEqual(heardRemotely.map((change) => change.keys), [['n1'], ['n2', 'n1']]);
  });

  it('keeps working across a takeover: the client becomes the holder and its namespace goes on', async () => {
    const first = await folders.open();
    const second = await folders.open();
    const remote = await second.openState('acme.notes');
    await remote.set('before', 1);
    await first.close();
    // Written while the holder hands over: it waits and goes to whoever holds the queue next.
    const during = remote.set('during', 2);
    await until(second.queue.onDidChangeRole, () => second.queue.role === 'holder', 'the client takes the queue over');
    await during;
    await remote.set('after', 3);
    assert.deepEqual(await remote.keys(), ['after', 'before', 'during']);
    assert.equal(second.services.stateStore?.store?.get('acme.notes', 'during'), 2, 'in the new holder’s own store');
  });

  it('keeps namespaces apart and refuses bad names, reserved keys and values that do not match the schema', async () => {
    const first = await folders.open();
    const second = await folders.open();
    const mine = await second.openState('acme.notes', { schema: noteSchema });
    const theirs = await second.openState('other.ext');
    await theirs.set('n1', 'secret of other.ext');
    assert.equal(await mine.get('n1'), undefined, 'a key of another namespace is not seen');
    assert.deepEqual(await mine.keys(), []);

    await rejectsWith(second.openState('lifeline.internal'), 'invalidNamespace');
    await rejectsWith(second.openState('__lifeline'), 'invalidNamespace');
    await rejectsWith(second.openState('../escape'), 'invalidNamespace');
    await rejectsWith(second.openState(''), 'invalidNamespace');
    await rejectsWith(mine.set('__lifeline.schemaVersion', { text: 'x', done: false }), 'invalidKey');
    await rejectsWith(mine.get(''), 'invalidKey');
    await rejectsWith(mine.set('n2', { text: 42 } as never), 'invalidValue');
    await rejectsWith(mine.set('n3', { text: 'x'.repeat(5 * 1024 * 1024), done: false }), 'tooLarge');
    // A value stored without the schema (another namespace handle of the same name) fails on read.
    const loose = await first.openState('acme.notes');
    await loose.set('bad', 'not a note');
    await rejectsWith(mine.get('bad'), 'invalidValue');
    mine.dispose();
    await rejectsWith(mine.get('n1'), 'closed');
    assert.equal(first.services.stateStore?.store?.exists('acme.notes', 'n2'), false, 'nothing refused was written');
  });
});
