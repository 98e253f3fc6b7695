/**
 * Time as the queue sees it. Production uses the system clock; unit tests use {@link ManualClock}
 * so that deadlines, backoff and delays are tested without waiting.
 */
export interface TimerHandle {
  dispose(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `callback` after `delayMs`; `delayMs` is never above {@link MAX_TIMER_MS}. */
  setTimer(callback: () => void, delayMs: number): TimerHandle;
}

/** Node fires a timeout longer than this after 1 ms (docs/platform.md), so longer waits are chunked. */
export const MAX_TIMER_MS = 2_147_483_647;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(callback, delayMs) {
    const timer = setTimeout(callback, Math.max(0, Math.min(delayMs, MAX_TIMER_MS)));
    return { dispose: () => clearTimeout(timer) };
  },
};

/**
 * Calls `callback` at the absolute time `at` (ms since the epoch). A time already past fires on
 * the next turn; a wait beyond Node's timer limit is split into chunks, re-reading the clock at
 * each one so that a clock that jumped is honoured.
 */
export function setDeadline(clock: Clock, at: number, callback: () => void): TimerHandle {
  let current: TimerHandle | undefined;
  let disposed = false;
  const arm = (): void => {
    if (disposed) return;
    const remaining = at - clock.now();
    if (remaining > MAX_TIMER_MS) {
      current = clock.setTimer(arm, MAX_TIMER_MS);
    } else {
      current = clock.setTimer(
        () => {
          if (!disposed) callback();
        },
        Math.max(0, remaining),
      );
    }
  };
  arm();
  return {
    dispose: () => {
      disposed = true;
      current?.dispose();
    },
  };
}

interface ManualTimer {
  readonly at: number;
  readonly order: number;
  readonly callback: () => void;
}

/**
 * A clock that moves only when told. Like Node, it refuses delays above {@link MAX_TIMER_MS}
 * (it throws rather than firing early), so a test proves that long waits are chunked.
 */
export class ManualClock implements Clock {
  private readonly timers = new Set<ManualTimer>();
  private counter = 0;

  constructor(private current = Date.UTC(2026, 0, 1)) {}

  now(): number {
    return this.current;
  }

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    if (delayMs > MAX_TIMER_MS) throw new RangeError(`timer of ${delayMs} ms exceeds the platform limit`);
    const timer: ManualTimer = { at: this.current + Math.max(0, delayMs), order: this.counter++, callback };
    this.timers.add(timer);
    return { dispose: () => this.timers.delete(timer) };
  }

  /** Timers still armed. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that comes due, in order, at its own time. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      let next: ManualTimer | undefined;
      for (const timer of this.timers) {
        if (timer.at <= target && (!next || timer.at < next.at || (timer.at === next.at && timer.order < next.order))) next = timer;
      }
      if (!next) break;
      this.timers.delete(next);
      this.current = Math.max(this.current, next.at);
      next.callback();
    }
    this.current = target;
  }

  /** Sets the time without firing anything: the time that passed while a queue was closed. */
  jump(ms: number): void {
    this.current += ms;
  }
}
