import { execFile } from 'node:child_process';

/** The command that starts a process in its own transient user scope, outside the caller's control group. */
export const SEPARATE_SCOPE_COMMAND = 'systemd-run';
export const SEPARATE_SCOPE_ARGS = ['--user', '--scope', '--quiet', '--collect'] as const;

/** By PATH, which decides which systemd-run runs. */
const scopeProbes = new Map<string, Promise<boolean>>();

/**
 * Whether `systemd-run --user --scope` works here: it needs a systemd user manager reachable over
 * its bus, which containers, WSL without systemd and a service without lingering lack. Tried once
 * per process with `true`, so a failure costs one short spawn.
 */
export function separateScopeAvailable(): Promise<boolean> {
  const path = process.env.PATH ?? '';
  let probe = scopeProbes.get(path);
  if (!probe) {
    probe =
      process.platform !== 'linux'
        ? Promise.resolve(false)
        : new Promise((resolve) => {
            execFile(SEPARATE_SCOPE_COMMAND, [...SEPARATE_SCOPE_ARGS, 'true'], { timeout: 5000 }, (error) => resolve(!error));
          });
    scopeProbes.set(path, probe);
  }
  return probe;
}
