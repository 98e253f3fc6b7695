import { LifelineError } from '../../src/core/errors';
import type { StorageEvent } from '../../src/core/storage/storeEvents';

export type Mode = 'clean' | 'crash';

/**
 * intact: opened equal to what was acknowledged. reported: less came back, and a loss report
 * covers every difference. refused: a typed, documented refusal (a newer format, a key problem).
 * silent: less (or other) came back and nothing that was raised covers it. crash: anything else thrown.
 */
export type Outcome = 'intact' | 'reported' | 'refused' | 'silent' | 'crash';

export interface TrialResult {
  readonly outcome: Outcome;
  /** What the open said, in short (the event types it raised), so silent losses can be told apart by symptom. */
  readonly said: string;
  readonly detail: string;
}

/** A store populated once, whose image every trial copies, damages and opens. */
export interface Fixture {
  /** Relative path → bytes: the files as a clean close or a crash left them. */
  readonly image: ReadonlyMap<string, Buffer>;
  /** The files of `image` that are framed journals (cut at and inside every record). */
  readonly journals: ReadonlySet<string>;
  /** Opens through the product's public open path from `directory` (a damaged copy of the image) and judges it. */
  open(directory: string): Promise<TrialResult>;
  /** Lets go of whatever the populated store still holds (the crash mode's store is still open). */
  dispose(): Promise<void>;
}

export interface DamageSubject {
  readonly name: string;
  /** Populates a store in `directory` through its public API; `variant` 1 gives another store's files (for `replace`). */
  populate(directory: string, mode: Mode, variant: number): Promise<Fixture>;
}

/** Errors that are the store's documented answer to intact files it must not open, not damage it failed to handle. */
export function isRefusal(error: unknown): boolean {
  return (
    error instanceof LifelineError &&
    ['missingKey', 'wrongKey', 'decryptFailed', 'unsupportedVersion'].includes(error.reason) &&
    (error.name === 'StorageError' || error.name === 'HistoryError')
  );
}

/** The event types an open raised, e.g. `journalTailCut+quarantined`, or `no event`. */
export function summarize(events: readonly StorageEvent[]): string {
  const types = [...new Set(events.map((event) => event.type))].filter((type) => type !== 'compacted');
  return types.length === 0 ? 'no event' : types.sort().join('+');
}

/**
 * The strict oracle for stores on the DurableStore (the StateStore, the queue): `states` maps each
 * sequence number to the rendered state after it; `acknowledged` is the last acknowledged one;
 * `inflight` is true when the image also holds one more commit that was never acknowledged (a
 * crash), which may or may not come back. A `dataLost` from F must leave exactly the state after F-1
 * and reach to the acknowledged end; `stateLost` covers anything. Other events (a tail cut, a
 * quarantine) are not loss reports: with a difference and none of those, the loss is silent.
 */
export function judgeSequenced(
  opened: string,
  events: readonly StorageEvent[],
  states: ReadonlyMap<number, string>,
  acknowledged: number,
  inflight: boolean,
): TrialResult {
  const said = summarize(events);
  if (opened === states.get(acknowledged) || (inflight && opened === states.get(acknowledged + 1))) {
    return { outcome: 'intact', said, detail: 'opened equal to what was acknowledged' };
  }
  if (events.some((event) => event.type === 'stateLost')) return { outcome: 'reported', said, detail: 'stateLost' };
  const losses = events.flatMap((event) => (event.type === 'dataLost' ? [event] : []));
  if (losses.length === 0) {
    const at = [...states].find(([, state]) => state === opened)?.[0];
    const shape = at === undefined ? 'a state that was never acknowledged' : `the state after record ${at} of ${acknowledged}`;
    return { outcome: 'silent', said, detail: `opened ${shape}, and no dataLost or stateLost was raised` };
  }
  const from = Math.min(...losses.map((loss) => loss.fromSequence));
  const reachesEnd = losses.some((loss) => loss.toSequence === undefined || loss.toSequence >= acknowledged);
  if (opened !== states.get(from - 1)) {
    return { outcome: 'silent', said, detail: `dataLost from ${from}, but the opened state is not the state after record ${from - 1}` };
  }
  if (!reachesEnd) {
    const to = Math.max(...losses.map((loss) => loss.toSequence ?? 0));
    return { outcome: 'silent', said, detail: `dataLost ${from}..${to}, but records up to ${acknowledged} are gone` };
  }
  return { outcome: 'reported', said, detail: `dataLost from ${from}` };
}
