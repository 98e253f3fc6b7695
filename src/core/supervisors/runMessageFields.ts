import { dirname } from 'node:path';
import { DEFAULT_LEASE_STALE_AFTER_MS } from '../session/lease';
import type { RunMessage } from '../../shared/supervisor/supervisorWire';

/** `run`'s `stopWithoutHost` for a runner's options (SupervisorRunnerOptions.stopWithoutHostAfterMs): none when unset. */
export function stopWithoutHostField(options: {
  readonly jobsDir: string;
  readonly stopWithoutHostAfterMs?: number;
  readonly leaseDir?: string;
  readonly leaseStaleAfterMs?: number;
}): Pick<RunMessage, 'stopWithoutHost'> {
  const afterMs = options.stopWithoutHostAfterMs;
  if (afterMs === undefined) return {};
  return {
    stopWithoutHost: {
      afterMs: Math.max(1, Math.round(afterMs)),
      leaseDir: options.leaseDir ?? dirname(options.jobsDir),
      leaseStaleAfterMs: options.leaseStaleAfterMs ?? DEFAULT_LEASE_STALE_AFTER_MS,
    },
  };
}
