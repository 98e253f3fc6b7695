import { spawn } from 'node:child_process';

/**
 * How long a stopped job has between the polite signal and SIGKILL, when neither its stage, its
 * job nor the `lifeline.jobs.killGraceSeconds` setting says otherwise. @default 10 s
 */
export const DEFAULT_KILL_GRACE_MS = 10_000;

/** The polite signal a stop starts with, and the one that cannot be refused. */
export type TreeSignal = 'SIGTERM' | 'SIGKILL';

/**
 * Signals a stage's whole process tree. Stages run as leaders of their own process group, so on
 * Linux and macOS one kill(-pgid) reaches children and grandchildren. Windows has no process
 * groups nor SIGTERM: `taskkill /T` walks the tree from the leader and asks each process to close
 * (a window gets WM_CLOSE; a console program without one usually cannot be asked), and
 * `taskkill /T /F` terminates them (coded, not tested here).
 */
export function signalProcessTree(pid: number, signal: TreeSignal): void {
  if (process.platform === 'win32') {
    const killer = spawn('taskkill', [...(signal === 'SIGKILL' ? ['/T', '/F'] : ['/T']), '/PID', String(pid)], {
      stdio: 'ignore',
      windowsHide: true,
    });
    killer.on('error', () => undefined);
    return;
  }
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

/** Kills a stage's whole process tree at once (SIGKILL; `taskkill /T /F` on Windows). */
export function killProcessTree(pid: number): void {
  signalProcessTree(pid, 'SIGKILL');
}
