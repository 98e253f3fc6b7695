import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { WireProcessIdentity } from '../supervisorWire';

/**
 * Which process a supervisor or a running stage is, durably (supervisorWire.ts): pid, the kernel's
 * start time of that pid (so that a reused pid is never mistaken for it) and the host. Linux gives
 * the start time in /proc; where it cannot be read, an orphan is never killed on a guess. Both the
 * supervisor (naming itself and its stages) and the host (judging them later) use these.
 */
export type ProcessIdentity = WireProcessIdentity;

function startTimeOf(pid: number): string | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses); starttime is field 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

export function identifyProcess(pid: number): ProcessIdentity {
  return { pid, startTime: startTimeOf(pid), host: hostname() };
}

/**
 * Kills the process group a stage ran in when its leader is provably still that process: same
 * host, same pid, same start time. Used for a job whose runner died without an exit record, so that
 * resuming it never runs a stage twice. At once, with no grace: the caller decides synchronously
 * whether the job can run again, and the stage's owner, which would have recorded a clean-up's
 * end, is gone; a resume restarts the stage from its checkpoint. True when a group was killed.
 */
export function stopOrphanedGroup(identity: ProcessIdentity | undefined): boolean {
  return signalOrphanedGroup(identity, 'SIGKILL');
}

/** Sends `signal` to the stage's process group under the same proof as {@link stopOrphanedGroup}. True when it was sent. */
export function signalOrphanedGroup(identity: ProcessIdentity | undefined, signal: 'SIGTERM' | 'SIGKILL'): boolean {
  if (!identity || identity.host !== hostname() || identity.startTime === undefined) return false;
  if (startTimeOf(identity.pid) !== identity.startTime) return false;
  try {
    process.kill(-identity.pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Is `identity` still the same living process? On Linux the start time proves it; where none was
 * recorded, a live pid on this host is taken as it (a reused pid is then possible, so callers use
 * a fresh heartbeat as well before trusting it).
 */
export function isSameProcessAlive(identity: ProcessIdentity | undefined): boolean {
  if (!identity || identity.host !== hostname()) return false;
  if (identity.startTime !== undefined) return startTimeOf(identity.pid) === identity.startTime && !isZombie(identity.pid);
  try {
    process.kill(identity.pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A killed process nobody has reaped yet (common in containers) still answers kill(pid, 0). */
function isZombie(pid: number): boolean {
  if (process.platform !== 'linux') return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}
