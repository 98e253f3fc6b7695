import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { z } from 'zod';
import type { RuntimeReport } from '../../../src/core/runtime/runtimeReports';
import type { WorkspaceRuntime } from '../../../src/core/runtime/workspaceRuntime';
import { newLease, readLease, takeOverLease } from '../../../src/core/session/lease';
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
    assert.ok(
      stateFiles(first).some((name) => name.startsWith('state.')),
      'its files are in <storage>/state',
    );
    const second = await folders.open();
    assert.equal(second.queue.role, 'client');
    assert.equal(await second.services.stateStore?.whenOpen(), undefined, 'a client does not open it (one writer)');
    await first.close();
    assert.equal(first.services.stateStore?.store, undefined, 'closed with the runtime');
    await until(second.queue.onDidChangeRole, () => second.queue.role === 'holder', 'the second runtime takes the queue over');
    assert.ok(await second.services.stateStore?.whenOpen(), 'the new holder opens it');
  });

  it('closes the store when another process takes the lease, and opens it again once it holds the queue again', async () => {
    const runtime = await folders.open({ overrides: { lease: { heartbeatMs: 100, staleAfterMs: 1500 } } });
    assert.ok(await runtime.services.stateStore?.whenOpen());
    // Another process takes the lease over (as if this one had hung): it never listens and never beats.
    const thief = newLease(() => join(runtime.storageDirectory, 'nobody.sock'));
    for (;;) {
      const current = await readLease(runtime.storageDirectory);
      assert.ok(current);
      // The holder's heartbeat may move the lease between the read and the take: read again then.
      if (await takeOverLease(runtime.storageDirectory, current, thief, 1500)) break;
    }
    await until(runtime.queue.onDidChangeRole, () => runtime.queue.role !== 'holder', 'the runtime steps down');
    assert.equal(await runtime.services.stateStore?.whenOpen(), undefined, 'it closed the store: the lease is not its');
    await until(runtime.queue.onDidChangeRole, () => runtime.queue.role === 'holder', 'it takes the stale lease back');
    assert.ok(await runtime.services.stateStore?.whenOpen(), 'and opens the store again');
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
    for (const name of ['state.snapshot', 'state.snapshot.previous']) {
      writeFileSync(join(first.storageDirectory, 'state', name), 'not a snapshot');
    }
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
    assert.deepEqual(
      first.services.stateStore?.store?.get('acme.notes', 'n1'),
      { text: 'from the client', done: false },
      'in the holder’s store once the write resolved',
    );
    assert.deepEqual(await local.get('n1'), { text: 'from the client', done: false });
    await local.batch([
      { key: 'n2', value: { text: 'from the holder', done: true } },
      { key: 'n1', delete: true },
    ]);
    assert.deepEqual(await remote.keys(), ['n2']);
    assert.equal(await remote.has('n1'), false);
    assert.deepEqual(await remote.get('n2'), { text: 'from the holder', done: true });
    assert.deepEqual(
      heardLocally.map((change) => change.keys),
      [['n1'], ['n2', 'n1']],
    );
    // The holder sends each notice before the reply that follows it on the same socket: the client has both by now.
    assert.deepEqual(
      heardRemotely.map((change) => change.keys),
      [['n1'], ['n2', 'n1']],
    );
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

describe('openState: migrations and restores', () => {
  const folders = useRuntimeFolders();

  it('migrates a namespace from a client, after a backup, and a second window finds it migrated', async () => {
    const first = await folders.open();
    await first.history.whenOpen();
    const v1 = await first.openState('acme.notes', { version: 1, migrations: [{ version: 1, migrate: () => undefined }] });
    await v1.set('n1', 'plain text');
    const second = await folders.open();
    const migrations = [
      { version: 1, migrate: () => undefined },
      {
        version: 2,
        description: 'notes become objects',
        migrate: (context: { keys(): string[]; get(key: string): unknown; set(key: string, value: unknown): void }) => {
          for (const key of context.keys()) context.set(key, { text: context.get(key), done: false });
        },
      },
    ];
    const v2 = await second.openState('acme.notes', { schema: noteSchema, migrations });
    assert.equal(v2.version, 2);
    assert.deepEqual(await v2.get('n1'), { text: 'plain text', done: false });
    const backups = await first.services.backups?.manager.list();
    assert.ok(
      backups?.some((backup) => backup.reason === 'beforeMigration' && backup.parts.some((part) => part.name === 'state')),
      'a backup of the state was taken before the migration',
    );
    const again = await first.openState('acme.notes', { schema: noteSchema, migrations });
    assert.deepEqual(await again.get('n1'), { text: 'plain text', done: false }, 'migrated once, not twice');
    await rejectsWith(first.openState('acme.notes', { version: 1, migrations: [migrations[0] as never] }), 'unsupportedVersion');
  });

  it('leaves the data as it was when a migration throws', async () => {
    const first = await folders.open();
    const second = await folders.open();
    const v0 = await second.openState('acme.notes');
    await v0.set('n1', 'kept');
    await rejectsWith(
      second.openState('acme.notes', {
        migrations: [
          {
            version: 1,
            migrate: (context) => {
              context.set('n1', 'changed');
              throw new Error('cannot convert');
            },
          },
        ],
      }),
      'migrationFailed',
    );
    assert.equal(first.services.stateStore?.store?.get('acme.notes', 'n1'), 'kept');
    assert.equal(first.services.stateStore?.store?.version('acme.notes'), 0);
  });

  it('sees a restored backup at once, tells the namespace what changed, and migrates an older version again', async () => {
    const first = await folders.open();
    await first.history.whenOpen();
    const v1 = await first.openState('acme.notes', { version: 1 });
    await v1.set('n1', 'in the backup');
    const backup = await first.services.backups?.backupNow('manual');
    assert.ok(backup);
    const second = await folders.open();
    const steps = [{ version: 2, migrate: (context: { set(key: string, value: unknown): void }) => context.set('migrated', true) }];
    const client = await second.openState('acme.notes', { migrations: steps });
    await client.set('n1', 'after the backup');
    const changes: StateChange[] = [];
    client.onDidChange((change) => changes.push(change));
    await first.services.backups?.manager.restore(backup.id);
    assert.equal(await client.get('n1'), 'in the backup');
    // The restore's notice came before that reply: this call first migrates the restored version 1 again.
    assert.equal(await client.get('migrated'), true);
    assert.deepEqual(changes, [{ keys: ['migrated', 'n1'], restored: true }, { keys: ['migrated'] }]);
  });
});

describe('openState: the holder refuses hostile state requests with a typed error and changes nothing', () => {
  const folders = useRuntimeFolders();

  it('answers each bad request replyError, keeps the connection, and leaves the store as it was', async () => {
    const holder = await folders.open();
    const store = await holder.services.stateStore?.whenOpen();
    assert.ok(store);
    await store.set('acme.notes', 'n1', 'untouched');
    const lease = await readLease(holder.storageDirectory);
    assert.ok(lease);
    const socket = connect(lease.socketPath);
    const lines: Record<string, unknown>[] = [];
    let buffered = '';
    const waiters: (() => void)[] = [];
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
        lines.push(JSON.parse(buffered.slice(0, end)) as Record<string, unknown>);
        buffered = buffered.slice(end + 1);
      }
      for (const waiter of waiters.splice(0)) waiter();
    });
    const reply = async (requestId: string): Promise<Record<string, unknown>> => {
      for (;;) {
        const found = lines.find((line) => line.requestId === requestId);
        if (found) return found;
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    };
    socket.write(`${JSON.stringify({ t: 'hello', token: lease.token })}\n`);
    const hostile: [string, string, unknown][] = [
      ['state', 'reserved key', { op: 'write', namespace: 'acme.notes', operations: [{ key: '__lifeline.schemaVersion', value: 99 }] }],
      ['state', 'reserved namespace', { op: 'write', namespace: 'lifeline.panels', operations: [{ key: 'k', value: 1 }] }],
      ['state', 'path in a namespace', { op: 'keys', namespace: '../queue' }],
      ['state', 'not an object', 'DROP TABLE'],
      ['state', 'unknown op', { op: 'wipe', namespace: 'acme.notes' }],
      ['state', 'an extra field', { op: 'keys', namespace: 'acme.notes', admin: true }],
      ['state', 'both a value and a delete', { op: 'write', namespace: 'acme.notes', operations: [{ key: 'n1', value: 1, delete: true }] }],
      ['state', 'a migration backwards', { op: 'migrate', namespace: 'acme.notes', fromVersion: 3, toVersion: 1, operations: [] }],
      ['__proto__', 'a prototype as the service', { op: 'keys', namespace: 'acme.notes' }],
      ['constructor', 'an inherited name as the service', { op: 'keys', namespace: 'acme.notes' }],
    ];
    for (const [index, [service, what, body]] of hostile.entries()) {
      const requestId = `hostile-${index}-${what.replace(/\W/g, '')}`;
      socket.write(`${JSON.stringify({ t: 'request', requestId, service, body })}\n`);
      const answer = await reply(requestId);
      assert.equal(answer.t, 'replyError', what);
      assert.equal(answer.reason, service === 'state' ? 'invalidRequest' : 'unknownService', what);
    }
    socket.write(
      `${JSON.stringify({ t: 'request', requestId: 'a-good-one', service: 'state', body: { op: 'keys', namespace: 'acme.notes' } })}\n`,
    );
    assert.deepEqual((await reply('a-good-one')).body, ['n1'], 'the connection still answers a good request');
    socket.destroy();
    assert.equal(store.get('acme.notes', 'n1'), 'untouched');
    assert.equal(store.version('acme.notes'), 0);
    assert.deepEqual([...store.durable!.state.keys()], ['acme.notes'], 'no namespace was created');
  });
});
