import { spawn } from 'node:child_process';

/**
 * Kills a stage's whole process tree. Stages run as leaders of their own process group, so on
 * Linux and macOS one kill(-pgid) reaches children and grandchildren. Windows has no process
 * groups: `taskkill /T /F` walks the tree from the leader (coded, not tested here).
 */
export function killProcessTree(pid: number): void {
  if (process.platform === 'win32') {
    const killer = spawn('taskkill', ['/T', '/F', '/PID', String(pid)], { stdio: 'ignore', windowsHide: true });
    killer.on('error', () => undefined);
    return;
  }
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // The group is already gone.
  }
}
