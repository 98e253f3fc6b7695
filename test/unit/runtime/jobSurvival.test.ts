import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { SurvivalAnswer, SurvivalFacts, SurvivalReport } from '../../../src/core/runtime/jobSurvival';
import { analyseSurvival, killUserProcesses, placeOfCgroup, systemdCgroupPath } from '../../../src/core/runtime/jobSurvival';
import { readSurvivalFacts } from '../../../src/core/runtime/jobSurvivalProbe';

const V1_HYBRID = ['12:pids:/system.slice/code-server@me.service', '1:name=systemd:/system.slice/code-server@me.service', '0::/'].join(
  '\n',
);
const CODE_SERVER_UNIT = '0::/system.slice/code-server@me.service\n';
const SSH_SESSION = '0::/user.slice/user-1000.slice/session-4.scope\n';
const USER_UNIT = '0::/user.slice/user-1000.slice/user@1000.service/app.slice/code-server.service\n';
const OWN_SCOPE = '0::/user.slice/user-1000.slice/user@1000.service/app.slice/run-u42.scope\n';
const CONTAINER = ['4:memory:/process_api/b004806f', '9:name=systemd:/', '0::/'].join('\n');

function facts(overrides: Partial<SurvivalFacts>): SurvivalFacts {
  return {
    platform: 'linux',
    hostCgroup: CODE_SERVER_UNIT,
    supervisorCgroups: [],
    initName: 'systemd',
    logindConfigs: [],
    lingering: false,
    sessionId: undefined,
    whenVSCodeCloses: 'finish',
    stopGraceSeconds: 60,
    separateScopeAvailable: false,
    separateScopeEnabled: false,
    ...overrides,
  };
}

function answer(report: SurvivalReport, event: SurvivalAnswer['event']): SurvivalAnswer {
  const found = report.answers.find((each) => each.event === event);
  assert.ok(found, event);
  return found;
}

describe('runtime: what running jobs survive (control group and session)', () => {
  it('reads systemd’s path from a cgroup v2 file, and from name=systemd on a hybrid v1 hierarchy', () => {
    assert.equal(systemdCgroupPath(CODE_SERVER_UNIT), '/system.slice/code-server@me.service');
    assert.equal(systemdCgroupPath(V1_HYBRID), '/system.slice/code-server@me.service');
    assert.equal(systemdCgroupPath(CONTAINER), '/');
    assert.equal(systemdCgroupPath('garbage'), undefined);
    assert.deepEqual(placeOfCgroup('/system.slice/code-server@me.service'), {
      kind: 'systemService',
      unit: 'code-server@me.service',
      path: '/system.slice/code-server@me.service',
    });
    assert.equal(placeOfCgroup('/user.slice/user-1000.slice/session-4.scope').kind, 'session');
    assert.equal(placeOfCgroup(systemdCgroupPath(USER_UNIT)).kind, 'userManager');
    assert.equal(placeOfCgroup('/').kind, 'none');
  });

  it('a code-server systemd unit whose supervisors share its group: a service restart stops running jobs; a separate scope is offered where it works', () => {
    const shared = analyseSurvival(facts({ supervisorCgroups: [CODE_SERVER_UNIT], separateScopeAvailable: true }));
    assert.equal(answer(shared, 'serviceRestart').outcome, 'stops');
    assert.match(answer(shared, 'serviceRestart').why, /code-server@me\.service.*KillMode=control-group/);
    assert.equal(answer(shared, 'logout').outcome, 'keeps', 'a system service does not end with a login session');
    assert.equal(answer(shared, 'reload').outcome, 'keeps');
    assert.equal(answer(shared, 'hostCrash').outcome, 'keeps');
    assert.equal(answer(shared, 'reboot').outcome, 'stops');
    assert.equal(shared.suggestSeparateScope, true);

    const noSystemdRun = analyseSurvival(facts({ supervisorCgroups: [CODE_SERVER_UNIT], separateScopeAvailable: false }));
    assert.equal(noSystemdRun.suggestSeparateScope, false, 'nothing is offered where systemd-run --user --scope does not work');

    const apart = analyseSurvival(
      facts({ supervisorCgroups: [OWN_SCOPE], separateScopeAvailable: true, separateScopeEnabled: true, lingering: true }),
    );
    assert.equal(answer(apart, 'serviceRestart').outcome, 'keeps', 'supervisors in their own scope outlive the server’s unit');
    assert.equal(answer(apart, 'logout').outcome, 'keeps', 'the user manager lingers');
    assert.equal(apart.suggestSeparateScope, false);
  });

  it('with no job running, the answer is for where new supervisors start: the host’s group, or their own scope when the setting is on', () => {
    assert.equal(answer(analyseSurvival(facts({})), 'serviceRestart').outcome, 'stops');
    const separate = analyseSurvival(facts({ separateScopeAvailable: true, separateScopeEnabled: true }));
    assert.equal(answer(separate, 'serviceRestart').outcome, 'keeps');
  });

  it('a server in an SSH login session: logout follows logind’s KillUserProcesses, the last file that sets it winning', () => {
    const base = { hostCgroup: SSH_SESSION, supervisorCgroups: [SSH_SESSION] };
    assert.equal(
      answer(analyseSurvival(facts({ ...base, logindConfigs: ['[Login]\nKillUserProcesses=yes\n'] })), 'logout').outcome,
      'stops',
    );
    assert.equal(
      answer(analyseSurvival(facts({ ...base, logindConfigs: ['[Login]\n#KillUserProcesses=yes\n'] })), 'logout').outcome,
      'depends',
    );
    const overridden = analyseSurvival(
      facts({ ...base, logindConfigs: ['[Login]\nKillUserProcesses=yes\n', '[Login]\nKillUserProcesses=no\n'] }),
    );
    assert.equal(answer(overridden, 'logout').outcome, 'keeps');
    assert.equal(answer(overridden, 'serviceRestart').outcome, 'keeps', 'a session scope is not a service a restart stops whole');
    assert.equal(killUserProcesses(['[Other]\nKillUserProcesses=yes\n']), undefined, 'only the [Login] section counts');
  });

  it('a server as a user unit: logout stops jobs unless the user lingers', () => {
    const base = { hostCgroup: USER_UNIT, supervisorCgroups: [USER_UNIT] };
    assert.equal(answer(analyseSurvival(facts({ ...base, lingering: false })), 'logout').outcome, 'stops');
    assert.equal(answer(analyseSurvival(facts({ ...base, lingering: true })), 'logout').outcome, 'keeps');
    assert.equal(answer(analyseSurvival(facts({ ...base, lingering: undefined })), 'logout').outcome, 'depends');
    assert.equal(answer(analyseSurvival(facts(base)), 'serviceRestart').outcome, 'stops');
  });

  it('a container without systemd: nothing stops the group; quitting VS Code follows lifeline.jobs.whenVSCodeCloses', () => {
    const container = analyseSurvival(facts({ hostCgroup: CONTAINER, supervisorCgroups: [CONTAINER], initName: 'process_api' }));
    assert.equal(answer(container, 'serviceRestart').outcome, 'keeps');
    assert.equal(answer(container, 'logout').outcome, 'keeps');
    assert.equal(answer(container, 'quit').outcome, 'keeps');
    const grace = analyseSurvival(
      facts({ hostCgroup: CONTAINER, initName: 'process_api', whenVSCodeCloses: 'stopAfterGrace', stopGraceSeconds: 30 }),
    );
    assert.equal(answer(grace, 'quit').outcome, 'stops');
    assert.match(answer(grace, 'quit').why, /30 s/);
    const unreadable = analyseSurvival(facts({ hostCgroup: undefined }));
    assert.equal(answer(unreadable, 'serviceRestart').outcome, 'unknown');
  });

  it('reads the facts from a /proc-like tree: the host’s and the jobs’ groups, the init, logind’s files in order, lingering', async () => {
    const root = mkdtempSync(join(tmpdir(), 'lifeline-survival-'));
    try {
      const roots = {
        proc: join(root, 'proc'),
        etc: join(root, 'etc'),
        varLib: join(root, 'var', 'lib'),
        usrLib: join(root, 'usr', 'lib'),
      };
      for (const [path, text] of [
        ['proc/self/cgroup', CODE_SERVER_UNIT],
        ['proc/1/comm', 'systemd\n'],
        ['proc/4242/cgroup', OWN_SCOPE],
        ['etc/systemd/logind.conf', '[Login]\nKillUserProcesses=yes\n'],
        ['usr/lib/systemd/logind.conf.d/10-distro.conf', '[Login]\nKillUserProcesses=no\n'],
        [`var/lib/systemd/linger/${userInfo().username}`, ''],
      ] as const) {
        mkdirSync(join(root, path, '..'), { recursive: true });
        writeFileSync(join(root, path), text);
      }
      const read = await readSurvivalFacts({
        jobPids: [4242, 4242, 999_999],
        whenVSCodeCloses: 'finish',
        stopGraceSeconds: 0,
        separateScopeEnabled: false,
        separateScopeAvailable: true,
        roots,
        env: { XDG_SESSION_ID: '7' },
      });
      assert.equal(read.hostCgroup, CODE_SERVER_UNIT);
      assert.deepEqual(read.supervisorCgroups, [OWN_SCOPE], 'one per pid; a pid that is gone is left out');
      assert.equal(read.initName, 'systemd');
      assert.equal(read.lingering, true);
      assert.equal(read.sessionId, '7');
      assert.equal(killUserProcesses(read.logindConfigs), false, 'drop-ins are read after logind.conf');
      const report = analyseSurvival(read);
      assert.equal(answer(report, 'serviceRestart').outcome, 'keeps');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('reads this machine: its own control group, and an answer for every event', async function () {
    if (process.platform !== 'linux') this.skip();
    const read = await readSurvivalFacts({
      jobPids: [process.pid],
      whenVSCodeCloses: 'finish',
      stopGraceSeconds: 0,
      separateScopeEnabled: false,
      separateScopeAvailable: undefined,
    });
    const own = readFileSync('/proc/self/cgroup', 'utf8');
    assert.equal(read.hostCgroup, own);
    assert.deepEqual(read.supervisorCgroups, [own]);
    assert.equal(read.initName, readFileSync('/proc/1/comm', 'utf8').trim());
    const report = analyseSurvival(read);
    assert.deepEqual(
      report.answers.map((each) => each.event),
      ['reload', 'hostCrash', 'quit', 'serviceRestart', 'logout', 'reboot'],
    );
    assert.notEqual(report.host.kind, 'unknown', 'this machine’s control group is read and placed');
    for (const each of report.answers) assert.ok(each.why.length > 0, each.event);
  });
});
