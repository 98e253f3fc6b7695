import type { RetryPolicy } from './jobModel';

/**
 * The wait before retry number `attempt` (1 = after the first failure). Exponential doubles from
 * `delayMs` up to `maxDelayMs`; jitter spreads it by ±`jitter` so that jobs that failed together do
 * not all come back at once (BullMQ, AWS backoff guidance).
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number): number {
  const base = policy.backoff === 'fixed' ? policy.delayMs : Math.min(policy.maxDelayMs, policy.delayMs * 2 ** Math.max(0, attempt - 1));
  const spread = base * policy.jitter * (2 * random() - 1);
  return Math.max(0, Math.round(base + spread));
}
