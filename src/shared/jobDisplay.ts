/**
 * How job states and durations read to people: one set of words for the Queue view, the Queue
 * dashboard, the History panel and the messages the scheduler stores. No run-time dependency, so
 * the webview bundles can import it (they see only src/shared).
 */

/**
 * The states a person sees. The stored job state (JOB_STATES in src/core/queue/jobModel.ts) is a
 * persisted format and has no `timedOut`: a job stopped by its job or stage timeout is stored as
 * `failed` with `result.timedOut`, and {@link displayState} derives the state shown.
 *
 * Filters use these states too, so "Failed" means failed by its own doing (an exit code, a signal,
 * a start error) and leaves out a timed-out job, which has its own "Timed out" filter.
 */
export const displayStates = ['queued', 'delayed', 'running', 'succeeded', 'failed', 'timedOut', 'cancelled', 'interrupted'] as const;
export type DisplayState = (typeof displayStates)[number];

/** The stored states, as far as this module needs them (the same literals as JobState). */
export type StoredJobState = Exclude<DisplayState, 'timedOut'>;

/** Title case, for chips, details and column values. */
export const displayStateLabels: Readonly<Record<DisplayState, string>> = {
  queued: 'Queued',
  delayed: 'Delayed',
  running: 'Running',
  succeeded: 'Succeeded',
  failed: 'Failed',
  timedOut: 'Timed out',
  cancelled: 'Cancelled',
  interrupted: 'Interrupted',
};

/** The state to show for a job: `failed` with `result.timedOut` reads as `timedOut`. */
export function displayState(job: {
  readonly state: StoredJobState;
  readonly result?: { readonly timedOut?: boolean | undefined } | undefined;
}): DisplayState {
  return job.state === 'failed' && job.result?.timedOut === true ? 'timedOut' : job.state;
}

/**
 * A duration as people say it: `350 ms`, `2 s`, `1 min 30 s`, `4 min`, `1 h 20 min`, `2 d 3 h`.
 * Two units at most, the smaller one left out when it is zero; below a minute seconds are rounded,
 * above it the smaller unit is cut, never rounded up into the larger one.
 */
export function formatDuration(ms: number): string {
  const value = Number.isFinite(ms) && ms > 0 ? ms : 0;
  if (Math.round(value) < 1000) return `${Math.round(value)} ms`;
  const seconds = Math.round(value / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return twoUnits(minutes, 'min', seconds % 60, 's');
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return twoUnits(hours, 'h', minutes % 60, 'min');
  return twoUnits(Math.floor(hours / 24), 'd', hours % 24, 'h');
}

function twoUnits(large: number, largeUnit: string, small: number, smallUnit: string): string {
  return small === 0 ? `${large} ${largeUnit}` : `${large} ${largeUnit} ${small} ${smallUnit}`;
}
