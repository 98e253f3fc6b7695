import * as assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shellQuote, stageScript, StageShells } from '../../../src/supervisor/stageShell';
import { isAlive } from '../drivenProcess';
import { waitUntil } from '../supervisors/supervisorTestKit';

/** Resolves with the exit code once the process has exited and its output is read. */
function closed(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('close', (code) => resolve(code)));
}

/** What a stage's process reports about itself, one fact per line, into `file`. */
function reportInto(file: string): string {
  return [
    `{ echo "pid $$"`,
    `echo "group $(ps -o pgid= -p $$ | tr -d ' ')"`,
    `echo "session $(ps -o sid= -p $$ | tr -d ' ')"`,
    `echo "cwd $(pwd -P)"`,
    `echo "PWD $PWD"`,
    `echo "stdin $(readlink /proc/$$/fd/0)"`,
    `echo "zero $0"`,
    `env | LC_ALL=C sort | grep -v '^_='`,
    `} > ${shellQuote(file)}`,
  ].join('; ');
}

describe('supervisor: stage shells started ahead of need', function () {
  this.timeout(20_000);
  if (!StageShells.supported) return;
  let dir: string;
  let shells: StageShells;
  const baseEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: '/nowhere', OLDPWD: '/before', LANG: 'C' };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-shells-'));
    shells = new StageShells(baseEnv);
  });
  afterEach(() => {
    shells.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs a stage exactly as spawn(command, { shell: true }) does: environment, folder, stdin, process group, exit code', async () => {
    // Through a symlinked folder: both report the physical path.
    const real = join(dir, 'real');
    mkdirSync(real);
    const cwd = join(dir, 'link');
    symlinkSync(real, cwd);
    const env = { LIFELINE_JOB_ID: 'j1', TRICKY: `it's "quoted" $HOME \`x\` \\ and\nsecond line`, PATH: `${process.env.PATH}` };
    const viaShell = join(dir, 'via-shell.txt');
    const direct = join(dir, 'direct.txt');
    shells.prepare();
    const shell = shells.launch(`${reportInto(viaShell)}; exit 7`, cwd, env);
    assert.ok(shell, 'a shell was ready');
    const spawned = spawn(`${reportInto(direct)}; exit 7`, {
      shell: true,
      cwd,
      env: { ...baseEnv, ...env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    assert.deepEqual(await Promise.all([closed(shell), closed(spawned)]), [7, 7]);
    const normalize = (text: string, pid: number | undefined): string[] => text.replaceAll(String(pid), '<pid>').split('\n');
    const ran = normalize(readFileSync(viaShell, 'utf8'), shell.pid);
    assert.deepEqual(ran, normalize(readFileSync(direct, 'utf8'), spawned.pid));
    assert.ok(ran.includes('pid <pid>') && ran.includes('group <pid>') && ran.includes('session <pid>'), ran.join('\n'));
    assert.ok(ran.includes(`cwd ${real}`) && ran.includes('stdin /dev/null') && ran.includes('OLDPWD=/before'), ran.join('\n'));
  });

  it('hands a stage back to be spawned when it cannot be said in a script or its folder is missing, or no shell is ready', () => {
    assert.equal(shells.launch('true', dir, {}), undefined, 'none prepared');
    shells.prepare();
    assert.equal(shells.launch('true', dir, { 'NOT-A-NAME': 'x' }), undefined);
    assert.equal(shells.launch('true', join(dir, 'missing'), {}), undefined);
    assert.equal(stageScript('true', dir, { 'A.B': '1' }, baseEnv), undefined);
    // Names a shell owns (read-only or computed in bash, or steering the script) are spawned as given.
    for (const owned of ['UID', 'PPID', 'RANDOM', 'PWD', 'IFS', 'BASH_ENV']) {
      assert.equal(stageScript('true', dir, { [owned]: '1' }, baseEnv), undefined, owned);
    }
    assert.ok(stageScript('true', dir, { UIDX: '1', OLDPWD: '/x' }, baseEnv));
    assert.match(stageScript('true', dir, {}, {}) ?? '', /unset OLDPWD/);
  });

  it('a waiting shell killed from outside is not handed a stage, even before its exit is seen', async () => {
    shells.prepare();
    const pid = shells.readyPid as number;
    process.kill(pid, 'SIGKILL');
    // Waits without turning the event loop, so the exit is not seen yet.
    const until = Date.now() + 2000;
    while (isAlive(pid) && Date.now() < until) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    assert.equal(shells.launch('true', dir, {}), undefined);
    shells.prepare();
    const next = shells.launch('exit 4', dir, {});
    assert.ok(next, 'a new shell is readied');
    assert.equal(await closed(next), 4);
  });

  it('a waiting shell whose owner goes away exits by itself', async () => {
    // The owner is a Node process of its own that readies a shell, reports its pid, and is SIGKILLed.
    const owner = spawn(
      process.execPath,
      [
        '-e',
        `const { StageShells } = require(${JSON.stringify(join(__dirname, '../../../src/supervisor/stageShell.js'))}); const s = new StageShells(process.env); s.prepare(); setTimeout(() => console.log(s.readyPid), 50); setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const pid = await new Promise<number>((resolve) =>
      owner.stdout?.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
    );
    assert.ok(pid > 0 && isAlive(pid), 'the shell waits');
    owner.kill('SIGKILL');
    await waitUntil(() => !isAlive(pid), 5000, 'the orphaned shell exited');
  });
});
