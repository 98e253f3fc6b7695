import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { closeSync, openSync, readSync, statSync } from 'node:fs';

/** A name `export` accepts; a stage whose environment has any other is spawned the usual way. */
const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Names a shell owns rather than passes on: read-only or computed in bash (which is /bin/sh on
 * macOS and some Linux distributions), or changing how the waiting shell reads its script. A
 * stage that sets one is spawned the usual way, so it gets exactly what it set.
 */
const SHELL_OWNED = new Set([
  'UID',
  'EUID',
  'PPID',
  'GROUPS',
  'SHELLOPTS',
  'RANDOM',
  'SRANDOM',
  'SECONDS',
  'LINENO',
  'HISTCMD',
  'EPOCHSECONDS',
  'EPOCHREALTIME',
  'PIPESTATUS',
  'DIRSTACK',
  'FUNCNAME',
  'OPTIND',
  'OPTARG',
  'IFS',
  'PWD',
  'CDPATH',
  'POSIXLY_CORRECT',
  'ENV',
  'PS1',
  'PS2',
  'PS4',
]);

function shellCanExport(name: string): boolean {
  return SHELL_NAME.test(name) && !SHELL_OWNED.has(name) && !name.startsWith('BASH');
}

/** `value` as one single-quoted shell word: exact for any text, newlines included. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * The script a waiting shell is given for a stage: it sets the stage's environment, enters its
 * folder and replaces itself with `/bin/sh -c <command>` reading /dev/null, so the stage's process
 * is what `spawn(command, { shell: true, cwd, env })` makes, in the waiting shell's process (its
 * pid, and the group it leads). Undefined when a variable's name cannot be exported by a shell.
 */
export function stageScript(
  command: string,
  cwd: string,
  env: Readonly<Record<string, string>>,
  baseEnv: NodeJS.ProcessEnv,
): string | undefined {
  const lines: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!shellCanExport(name)) return undefined;
    lines.push(`export ${name}=${shellQuote(value)}`);
  }
  // -P: the physical folder, as a shell started in it reports; `cd` also sets OLDPWD, which a
  // fresh shell would not have changed.
  lines.push(`cd -P -- ${shellQuote(cwd)} || exit 127`);
  const oldpwd = env.OLDPWD ?? baseEnv.OLDPWD;
  lines.push(oldpwd === undefined ? 'unset OLDPWD' : `export OLDPWD=${shellQuote(oldpwd)}`);
  lines.push(`exec /bin/sh -c ${shellQuote(command)} </dev/null`);
  return `${lines.join('\n')}\n`;
}

/**
 * A POSIX shell started ahead of need and waiting for its script on stdin, so that a stage starts
 * for the cost of a write and an exec rather than a fork of this Node process, which copies its
 * page tables (1 to 2 ms on the machines measured, most of a job's start). The supervisor keeps
 * one ready between stages and jobs. A waiting shell whose supervisor dies reads end-of-file and
 * exits. Not used on Windows, nor for a stage whose folder is missing (spawn reports that) or whose
 * environment a shell cannot set: those are spawned directly.
 */
export class StageShells {
  private ready: ChildProcess | undefined;
  /** The ready shell's /proc stat file, kept open: one read then tells whether it still runs. */
  private readyStat: number | undefined;
  private disposed = false;

  constructor(private readonly baseEnv: NodeJS.ProcessEnv) {}

  /** The waiting shell's pid, if one is ready. */
  get readyPid(): number | undefined {
    return this.ready && isWaiting(this.ready) ? this.ready.pid : undefined;
  }

  static get supported(): boolean {
    return process.platform !== 'win32';
  }

  /** Starts a waiting shell when none is ready. */
  prepare(): void {
    if (this.disposed || !StageShells.supported || (this.ready && isWaiting(this.ready))) return;
    this.forgetReady();
    const shell = spawn('/bin/sh', ['-s'], { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: this.baseEnv });
    shell.on('error', () => {
      if (this.ready === shell) this.forgetReady();
    });
    shell.once('exit', () => {
      if (this.ready === shell) this.forgetReady();
    });
    // A write to a shell that went away must not crash the supervisor.
    shell.stdin?.on('error', () => undefined);
    this.ready = shell;
    this.readyStat = openProcStat(shell.pid);
  }

  /**
   * The waiting shell, now running `command` in `cwd` with `env` added to the base environment;
   * undefined when none is ready or the stage cannot be started this way.
   */
  launch(command: string, cwd: string, env: Readonly<Record<string, string>>): ChildProcess | undefined {
    const shell = this.ready;
    if (!shell || !isWaiting(shell) || !isDirectory(cwd)) return undefined;
    const script = stageScript(command, cwd, env, this.baseEnv);
    if (script === undefined) return undefined;
    // Killed from outside a moment ago, its exit not seen yet: it would end the stage unrun.
    const running = isRunning(shell.pid as number, this.readyStat);
    this.forgetReady();
    if (!running) return undefined;
    shell.stdin?.end(script);
    return shell;
  }

  dispose(): void {
    this.disposed = true;
    const shell = this.ready;
    this.forgetReady();
    if (shell && isWaiting(shell)) shell.kill('SIGKILL');
  }

  private forgetReady(): void {
    this.ready = undefined;
    if (this.readyStat !== undefined) closeSync(this.readyStat);
    this.readyStat = undefined;
  }
}

/** Linux: the process's stat file, which reads afresh each time (ESRCH once it is reaped). */
function openProcStat(pid: number | undefined): number | undefined {
  if (pid === undefined || process.platform !== 'linux') return undefined;
  try {
    return openSync(`/proc/${pid}/stat`, 'r');
  } catch {
    return undefined;
  }
}

const statBuffer = Buffer.alloc(512);

/** Alive and not a zombie (Linux tells from its stat file; elsewhere only a reaped process is caught). */
function isRunning(pid: number, statFd: number | undefined): boolean {
  if (statFd === undefined) {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
  try {
    const stat = statBuffer.toString('latin1', 0, readSync(statFd, statBuffer, 0, statBuffer.length, 0));
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return false;
  }
}

function isWaiting(shell: ChildProcess): boolean {
  return shell.pid !== undefined && shell.exitCode === null && shell.signalCode === null && !shell.killed && shell.stdin?.writable === true;
}

/** A folder that exists; otherwise spawn reports it, as it always did. */
function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
