import * as assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { z } from 'zod';
import type * as Published from '../../src/api/lifeline';
import { nullLogger } from '../../src/core/logger';
import { WorkspaceRuntime } from '../../src/core/runtime/workspaceRuntime';
import { currentWorkspaceKey } from '../../src/vscode/workspaceKey';

const extensionId = 'lifeline.lifeline';
const noteSchema = z.object({ text: z.string(), at: z.number() });

/** The API as another extension gets it: `exports` of the activated extension, typed by the published .d.ts. */
async function publishedApi(): Promise<Published.LifelineApi> {
  const extension = vscode.extensions.getExtension<Published.LifelineApi>(extensionId);
  assert.ok(extension, `${extensionId} is installed`);
  await extension.activate();
  return extension.exports;
}

describe('openState: another extension’s workspace state (in a real extension host)', () => {
  it('writes through the returned API to disk, and a runtime opened afterwards reads it back over the socket', async () => {
    const api = await publishedApi();
    assert.equal(api.apiVersion, 1);
    const notes = await api.openState('acme.integration', { schema: noteSchema });
    const value = { text: `note ${randomUUID()}`, at: Date.now() };
    const heard: string[][] = [];
    const subscription = notes.onDidChange((change) => heard.push([...change.keys]));
    await notes.set('first', value);
    assert.deepEqual(await notes.get('first'), value);
    assert.deepEqual(heard, [['first']]);
    subscription.dispose();

    // Resolved, so on disk: the journal holds it (the state store is not encrypted this round).
    assert.ok(api.storageDirectory);
    const stateDir = join(api.storageDirectory, 'state');
    const onDisk = readdirSync(stateDir).some((name) => readFileSync(join(stateDir, name)).includes(value.text));
    assert.ok(onDisk, `the value is in a file of ${stateDir}`);

    // A second runtime on the same storage folder, as another window opens it: a client of this one.
    const extension = vscode.extensions.getExtension(extensionId);
    assert.ok(extension);
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder);
    const other = await WorkspaceRuntime.open({
      storageDirectory: api.storageDirectory,
      workspaceKey: currentWorkspaceKey() ?? 'test',
      baseDir: folder.uri.fsPath,
      logger: nullLogger,
      role: 'test',
      supervisorScript: join(extension.extensionPath, 'dist', 'supervisor.js'),
      sqlWasmPath: join(extension.extensionPath, 'dist', 'sql-wasm.wasm'),
    });
    try {
      assert.equal(other.queue.role, 'client', 'the extension’s window holds the queue');
      const again = await other.openState('acme.integration', { schema: noteSchema });
      assert.deepEqual(await again.get('first'), value, 'read back through the holder');
      await again.set('second', { text: 'from the other runtime', at: 1 });
      assert.deepEqual(await notes.keys(), ['first', 'second'], 'the extension’s namespace sees the other window’s write');
    } finally {
      await other.close();
    }
  });

  it('refuses a reserved namespace and a value that does not match the schema, with a typed reason', async () => {
    const api = await publishedApi();
    await assert.rejects(api.openState('lifeline.internal'), (error: Published.LifelineStateError) => error.reason === 'invalidNamespace');
    const notes = await api.openState('acme.integration', { schema: noteSchema });
    await assert.rejects(
      notes.set('bad', { text: 1 } as never),
      (error: Published.LifelineStateError) => error.reason === 'invalidValue' && error.name === 'LifelineStateError',
    );
    assert.equal(await notes.has('bad'), false);
  });
});
