import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';

/** A name `export` accepts; a stage whose environment has any other is spawned the usual way. */
const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Names a shell owns rather than passes on: read-only or computed in bash (which is /bin/sh on
 * macOS and some Linux distributions), or changing how the waiting shell reads its script. A
 * stage that sets one is spawned the usual way, so it gets exactly what it set.
 */
const SHELL_OWNED = new Set(['UID', 'EUID', 'PPID', 'GROUPS', 'SHELLOPTS', 'RANDOM', 'SRANDOM', 'SECONDS', 'LINENO', 'HISTCMD', 'EPOCHSECONDS', 'EPOCHREALTIME', 'PIPESTATUS', 'DIRSTACK', 'FUNCNAME', 'OPTIND', 'OPTARG', 'IFS', 'PWD', 'CDPATH', 'POSIXLY_CORRECT', 'ENV', 'PS1', 'PS2', 'PS4']);

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
export function stageScript(command: string, cwd: string, env: Readonly<Record<string, string>>, baseEnv: NodeJS.ProcessEnv): string | undefined {
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
    const shell = spawn('/bin/sh', ['-s'], { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: this.baseEnv });
    shell.on('error', () => {
      if (this.ready === shell) this.ready = undefined;
    });
    shell.once('exit', () => {
      if (this.ready === shell) this.ready = undefined;
    });
    // A write to a shell that went away must not crash the supervisor.
    shell.stdin?.on('error', () => undefined);
    this.ready = shell;
  }

  /**
   * The waiting shell, now running `command` in `cwd` with `env` added to the base environment;
   * undefined when none is ready or the stage cannot be started this way.
   */
  launch(command: string, cwd: string, env: Readonly<Record<string, string>>): ChildProcess | undefined {
    const shell = this.ready;
    if (!shell || !isWaiting(shell) || !isEnterable(cwd)) return undefined;
    // Killed from outside a moment ago, its exit not seen yet: it would end the stage unrun.
    if (!isRunning(shell.pid as number)) {
      this.ready = undefined;
      return undefined;
    }
    const script = stageScript(command, cwd, env, this.baseEnv);
    if (script === undefined) return undefined;
    this.ready = undefined;
    shell.stdin?.end(script);
    return shell;
  }

  dispose(): void {
    this.disposed = true;
    const shell = this.ready;
    this.ready = undefined;
    if (shell && isWaiting(shell)) shell.kill('SIGKILL');
  }
}

function isWaiting(shell: ChildProcess): boolean {
  return shell.pid !== undefined && shell.exitCode === null && shell.signalCode === null && !shell.killed && shell.stdin?.writable === true;
}

/** A folder the stage can enter; otherwise spawn reports why, as it always did. */
function isEnterable(path: string): boolean {
  try {
    if (!statSync(path).isDirectory()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Alive and not a zombie (Linux tells from /proc; elsewhere only a reaped process is caught). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return process.platform !== 'linux';
  }
}
