import * as assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SupervisorConnection } from '../../../src/core/supervisors/supervisorConnection';
import { killSupervisorsOf, supervisorScript, waitUntil } from './supervisorTestKit';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * `lifeline.supervisors.scope: separate` starts supervisors behind `systemd-run --user --scope`.
 * This machine has no systemd user manager, so a stand-in `systemd-run` first on PATH says what
 * it was asked and either runs the command (as systemd-run --scope does, by exec) or fails.
 */
describe('supervisors: started in their own systemd scope where that works', function () {
  this.timeout(20_000);
  let root = '';
  let jobsDir = '';
  const savedPath = process.env.PATH;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'lifeline-scope-'));
    jobsDir = join(root, 'jobs');
  });
  afterEach(() => {
    process.env.PATH = savedPath;
    killSupervisorsOf(jobsDir);
    rmSync(root, { recursive: true, force: true });
  });

  /** A `systemd-run` that logs its arguments; `body` decides what it does next. */
  function fakeSystemdRun(name: string, body: string): string {
    const bin = join(root, name);
    mkdirSync(bin);
    const log = join(root, `${name}.log`);
    writeFileSync(join(bin, 'systemd-run'), `#!/bin/sh\necho "$*" >> '${log}'\n${body}\n`);
    chmodSync(join(bin, 'systemd-run'), 0o755);
    process.env.PATH = `${bin}:${savedPath ?? ''}`;
    return log;
  }

  it('runs the supervisor through systemd-run --user --scope when it works', async () => {
    const log = fakeSystemdRun('works', 'while [ "${1#--}" != "$1" ]; do shift; done\nexec "$@"');
    const connection = await SupervisorConnection.spawn({ script: supervisorScript, jobsDir, idleExitMs: 500, separateScope: true });
    assert.ok(isAlive(connection.hello.pid));
    const calls = readFileSync(log, 'utf8').trim().split('\n');
    assert.equal(calls[0], '--user --scope --quiet --collect true', 'it is tried once with `true` first');
    assert.match(calls[1] ?? '', /^--user --scope --quiet --collect \S+ \S*main\.js --socket /, 'then it runs the supervisor');
    const pid = connection.hello.pid;
    connection.dispose();
    await waitUntil(() => !isAlive(pid), 5000, 'the idle supervisor exited');
  });

  it('falls back to a plain start when systemd-run refuses the supervisor after the probe worked', async () => {
    const log = fakeSystemdRun('refuses', '[ "$5" = "true" ] && exit 0\necho "Failed to start transient scope unit" >&2\nexit 1');
    const connection = await SupervisorConnection.spawn({ script: supervisorScript, jobsDir, idleExitMs: 500, separateScope: true });
    assert.ok(isAlive(connection.hello.pid), 'the supervisor started as usual');
    assert.equal(readFileSync(log, 'utf8').trim().split('\n').length, 2, 'the probe, then the one refused start');
    connection.dispose();
  });

  it('starts as usual on this machine, where systemd-run --user cannot reach a user manager (or is not installed)', async () => {
    const connection = await SupervisorConnection.spawn({ script: supervisorScript, jobsDir, idleExitMs: 500, separateScope: true });
    assert.ok(isAlive(connection.hello.pid));
    assert.ok(existsSync(jobsDir));
    connection.dispose();
  });
});
