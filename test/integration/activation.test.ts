import * as assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { LifelineApi } from '../../src/extension';
import { queuePanelViewType } from '../../src/shared/queuePanelProtocol';

const extensionId = 'lifeline.lifeline';

async function lifeline(): Promise<LifelineApi> {
  const extension = vscode.extensions.getExtension<LifelineApi>(extensionId);
  assert.ok(extension, `${extensionId} is installed`);
  return extension.activate();
}

function queuePanelTabs(): vscode.Tab[] {
  return vscode.window.tabGroups.all
    .flatMap((group) => group.tabs)
    .filter((tab) => tab.input instanceof vscode.TabInputWebview && tab.input.viewType.includes(queuePanelViewType));
}

describe('activation (in a real extension host)', () => {
  it('activates on startup and returns its API', async () => {
    const api = await lifeline();
    assert.equal(api.version, '0.1.0');
    assert.match(api.activationId, /^[0-9a-f-]{36}$/);
    assert.ok(vscode.extensions.getExtension(extensionId)?.isActive);
  });

  it('keeps its data in a per-workspace folder under globalStorageUri, named in a manifest', async () => {
    const api = await lifeline();
    assert.ok(api.storageDirectory, 'a folder is open, so there is a storage folder');
    assert.ok(api.storageDirectory.includes(join('globalStorage', 'lifeline.lifeline', 'workspaces')), api.storageDirectory);
    const manifest = JSON.parse(readFileSync(join(api.storageDirectory, 'manifest.json'), 'utf8')) as { workspaceKey: string };
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder);
    assert.equal(manifest.workspaceKey, `${folder.uri.scheme}:${folder.uri.path}`);
    assert.ok(!manifest.workspaceKey.includes('127.0.0.1'), 'the key must not carry the server port');
  });

  it('contributes its commands in the Lifeline category', async () => {
    await lifeline();
    const commands = await vscode.commands.getCommands(true);
    for (const id of ['lifeline.showLog', 'lifeline.openQueuePanel']) assert.ok(commands.includes(id), `${id} is registered`);
    const manifest = vscode.extensions.getExtension(extensionId)?.packageJSON as { contributes: { commands: { category: string }[] } };
    assert.ok(manifest.contributes.commands.every((c) => c.category === 'Lifeline'));
  });

  it('runs "Lifeline: Show Log" without error', async () => {
    await lifeline();
    await vscode.commands.executeCommand('lifeline.showLog');
  });

  it('opens one Queue dashboard however often the command runs', async () => {
    await lifeline();
    await vscode.commands.executeCommand('lifeline.openQueuePanel');
    await vscode.commands.executeCommand('lifeline.openQueuePanel');
    await waitFor(() => queuePanelTabs().length === 1, 'the Queue dashboard tab');
    assert.equal(queuePanelTabs().length, 1);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await waitFor(() => queuePanelTabs().length === 0, 'the Queue dashboard to close');
  });

  it('ships the JSON schema that validates .vscode/lifeline.json', async () => {
    const extension = vscode.extensions.getExtension(extensionId);
    assert.ok(extension);
    const schemaPath = join(extension.extensionPath, 'dist', 'lifeline.schema.json');
    assert.ok(existsSync(schemaPath));
    const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as { properties: Record<string, unknown>; required: string[] };
    assert.ok(schema.properties.jobs && schema.required.includes('version'));
  });
});

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
