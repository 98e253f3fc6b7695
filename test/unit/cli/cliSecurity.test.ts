import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LEASE_FILE } from '../../../src/shared/supervisor/node/leaseFile';
import { useStoreFolders } from '../storeCli/storeCliTestKit';

/** A user that is not the one running the tests. */
const OTHER_UID = 65534;

/** What another user's process gets when it reads the lease (the token) and connects to the holder's socket. */
function asOtherUser(leasePath: string, socketPath: string): { lease: string; socket: string } {
  const script = `
    const fs = require('node:fs'); const net = require('node:net');
    let lease = 'read';
    try { fs.readFileSync(${JSON.stringify(leasePath)}); } catch (e) { lease = e.code; }
    const socket = net.connect(${JSON.stringify(socketPath)});
    socket.on('connect', () => { console.log(JSON.stringify({ lease, socket: 'connected' })); process.exit(0); });
    socket.on('error', (e) => { console.log(JSON.stringify({ lease, socket: e.code })); process.exit(0); });`;
  const run = spawnSync(process.execPath, ['-e', script], { uid: OTHER_UID, gid: OTHER_UID, encoding: 'utf8', cwd: '/' });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as { lease: string; socket: string };
}

describe('lifeline: the holder socket is for this user only', function () {
  this.timeout(30_000);
  const folders = useStoreFolders();

  it("another user can neither read the lease's token nor connect to the holder's socket", async function () {
    if (process.getuid?.() !== 0) this.skip(); // running a process as another user needs root (CI runs as root)
    await folders().openRuntime();
    const leasePath = join(folders().storage, LEASE_FILE);
    const lease = JSON.parse(readFileSync(leasePath, 'utf8')) as { socketPath: string; token: string };
    assert.equal(statSync(lease.socketPath).mode & 0o077, 0, 'the socket is user-only');
    const seen = asOtherUser(leasePath, lease.socketPath);
    assert.equal(seen.lease, 'EACCES');
    assert.equal(seen.socket, 'EACCES');
  });
});
