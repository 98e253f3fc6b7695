import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { globalStorageCandidates, workspaceKeysOf } from '../../../src/storeCli/locate';

describe('lifeline-store: finding a workspace’s storage folder', () => {
  it('derives the key the extension derives (file: and the URI path; either case of a Windows drive)', () => {
    assert.deepEqual(workspaceKeysOf('/home/me/project', 'linux'), ['file:/home/me/project']);
    assert.deepEqual(workspaceKeysOf('C:\\src\\app', 'win32'), ['file:/c:/src/app', 'file:/C:/src/app']);
  });

  it('looks where VS Code, its server and code-server keep global storage, or under --user-data-dir', () => {
    const env = { HOME: '/home/me' };
    const linux = globalStorageCandidates(undefined, env, 'linux');
    assert.ok(linux.includes(join('/home/me', '.config', 'Code', 'User', 'globalStorage', 'lifeline.lifeline')));
    assert.ok(linux.includes(join('/home/me', '.local', 'share', 'code-server', 'User', 'globalStorage', 'lifeline.lifeline')));
    assert.ok(linux.includes(join('/home/me', '.vscode-server', 'data', 'User', 'globalStorage', 'lifeline.lifeline')));
    const mac = globalStorageCandidates(undefined, env, 'darwin');
    assert.ok(mac.includes(join('/home/me', 'Library', 'Application Support', 'Code', 'User', 'globalStorage', 'lifeline.lifeline')));
    assert.deepEqual(globalStorageCandidates('/data/vscode', env, 'linux'), [
      join('/data/vscode', 'User', 'globalStorage', 'lifeline.lifeline'),
    ]);
  });
});
