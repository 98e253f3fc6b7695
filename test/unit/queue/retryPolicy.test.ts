import * as assert from 'node:assert/strict';
import * as fc from 'fast-check';
import type { RetryPolicy, RunExit } from '../../../src/core/queue/retryPolicy';
import {
  backoffDelay,
  decideAfterExit,
  DEFAULT_RETRY_POLICY,
  retryOverrideSchema,
  retryPolicyOf,
  retryPolicySchema,
} from '../../../src/core/queue/retryPolicy';
import { retriesDefinitionSchema } from '../../../src/shared/workspaceConfig';

const policy = (overrides: Partial<RetryPolicy> = {}): RetryPolicy => ({ ...DEFAULT_RETRY_POLICY, ...overrides });

type DecidedJob = Parameters<typeof decideAfterExit>[0];
const job = (overrides: Partial<DecidedJob> = {}): DecidedJob => ({
  attempts: 1,
  retry: policy({ maxAttempts: 3, backoff: 'fixed', delayMs: 1000, jitter: 0 }),
  stopReason: undefined,
  timeoutMs: undefined,
  stages: [{ name: 'main', command: 'true', cwd: '/', outputs: [] }],
  currentStage: 0,
  ...overrides,
});
const exited = (exitCode: number | null, extra: Partial<RunExit> = {}): RunExit => ({ exitCode, signal: null, error: undefined, ...extra });
const NOW = Date.UTC(2026, 0, 1);
const half = (): number => 0.5;

describe('jobs: retry policy', () => {
  describe('the stored policy', () => {
    it('has one attempt, exponential backoff from 1 s up to an hour and 20% jitter by default', () => {
      assert.deepEqual(DEFAULT_RETRY_POLICY, {
        maxAttempts: 1,
        backoff: 'exponential',
        delayMs: 1000,
        maxDelayMs: 3_600_000,
        jitter: 0.2,
        doNotRetryExitCodes: [],
      });
      assert.deepEqual(retryPolicyOf(undefined), DEFAULT_RETRY_POLICY);
      assert.deepEqual(retryPolicyOf(undefined, {}), DEFAULT_RETRY_POLICY);
    });

    it("maps the user's seconds to milliseconds and fills in what they left out", () => {
      assert.deepEqual(retryPolicyOf({ maxAttempts: 4, backoff: 'fixed', delaySeconds: 2.5, doNotRetryExitCodes: [2, 3] }), {
        maxAttempts: 4,
        backoff: 'fixed',
        delayMs: 2500,
        maxDelayMs: 3_600_000,
        jitter: 0.2,
        doNotRetryExitCodes: [2, 3],
      });
      assert.deepEqual(retryPolicyOf({ maxAttempts: 2 }), { ...DEFAULT_RETRY_POLICY, maxAttempts: 2 });
      assert.equal(retryPolicyOf({ maxAttempts: 2, delaySeconds: 0 }).delayMs, 0);
    });

    it("lets the enqueue command override the definition's settings, field by field", () => {
      const mapped = retryPolicyOf({ maxAttempts: 3, backoff: 'fixed', delaySeconds: 10 }, { delayMs: 5, jitter: 0 });
      assert.deepEqual(mapped, { ...DEFAULT_RETRY_POLICY, maxAttempts: 3, backoff: 'fixed', delayMs: 5, jitter: 0 });
      assert.deepEqual(retryPolicyOf(undefined, { maxAttempts: 7, maxDelayMs: 60_000 }), {
        ...DEFAULT_RETRY_POLICY,
        maxAttempts: 7,
        maxDelayMs: 60_000,
      });
    });

    it('an override has no defaults of its own, and refuses unknown fields', () => {
      assert.deepEqual(retryOverrideSchema.parse({}), {});
      assert.deepEqual(retryOverrideSchema.parse({ jitter: 0.5 }), { jitter: 0.5 });
      assert.equal(retryOverrideSchema.safeParse({ delaySeconds: 1 }).success, false);
    });

    it("refuses exactly what the user's format refuses", () => {
      for (const maxAttempts of [0, 101, 1.5, -1]) {
        assert.equal(retriesDefinitionSchema.safeParse({ maxAttempts }).success, false, `lifeline.json, maxAttempts ${maxAttempts}`);
        assert.equal(retryPolicySchema.safeParse({ maxAttempts }).success, false, `stored, maxAttempts ${maxAttempts}`);
        assert.equal(retryOverrideSchema.safeParse({ maxAttempts }).success, false, `override, maxAttempts ${maxAttempts}`);
      }
      assert.equal(retriesDefinitionSchema.safeParse({ maxAttempts: 2, delaySeconds: -1 }).success, false);
      assert.equal(retryPolicySchema.safeParse({ delayMs: -1 }).success, false);
      assert.equal(retriesDefinitionSchema.safeParse({ maxAttempts: 2, backoff: 'linear' }).success, false);
      assert.equal(retryPolicySchema.safeParse({ backoff: 'linear' }).success, false);
      assert.equal(retriesDefinitionSchema.safeParse({ maxAttempts: 2, doNotRetryExitCodes: [1.5] }).success, false);
      assert.equal(retryPolicySchema.safeParse({ doNotRetryExitCodes: [1.5] }).success, false);
      assert.equal(retryPolicySchema.safeParse({ jitter: 1.5 }).success, false);
      assert.throws(() => retryPolicyOf(undefined, { jitter: 2 }));
    });
  });

  describe('backoff', () => {
    it('keeps fixed backoff fixed', () => {
      const fixed = policy({ backoff: 'fixed', delayMs: 3000, jitter: 0 });
      assert.deepEqual(
        [1, 2, 5, 20].map((attempt) => backoffDelay(fixed, attempt, half)),
        [3000, 3000, 3000, 3000],
      );
    });

    it('doubles exponential backoff from the delay, up to its ceiling', () => {
      const exponential = policy({ backoff: 'exponential', delayMs: 1000, maxDelayMs: 10_000, jitter: 0 });
      assert.deepEqual(
        [1, 2, 3, 4, 5, 30].map((attempt) => backoffDelay(exponential, attempt, half)),
        [1000, 2000, 4000, 8000, 10_000, 10_000],
      );
      assert.equal(backoffDelay(exponential, 0, half), 1000, 'no attempt yet waits the plain delay');
    });

    it('spreads the delay by the jitter either way, as the random number says', () => {
      const jittered = policy({ backoff: 'fixed', delayMs: 10_000, jitter: 0.5 });
      assert.equal(
        backoffDelay(jittered, 1, () => 0),
        5000,
      );
      assert.equal(
        backoffDelay(jittered, 1, () => 0.5),
        10_000,
      );
      assert.equal(
        backoffDelay(jittered, 1, () => 1),
        15_000,
      );
      assert.equal(
        backoffDelay(jittered, 1, () => 0.25),
        7500,
      );
      assert.equal(
        backoffDelay(policy({ backoff: 'fixed', delayMs: 1001, jitter: 0.5 }), 1, () => 0),
        501,
        'whole milliseconds',
      );
    });

    it('never waits less than 0 nor more than the ceiling plus its jitter', () => {
      fc.assert(
        fc.property(
          fc.constantFrom('fixed' as const, 'exponential' as const),
          fc.integer({ min: 0, max: 10_000_000 }),
          fc.integer({ min: 0, max: 10_000_000 }),
          fc.double({ min: 0, max: 1, noNaN: true }),
          fc.integer({ min: 0, max: 100 }),
          fc.double({ min: 0, max: 1, noNaN: true }),
          (backoff, delayMs, maxDelayMs, jitter, attempt, random) => {
            const p = policy({ backoff, delayMs, maxDelayMs, jitter });
            const base = backoff === 'fixed' ? delayMs : Math.min(maxDelayMs, delayMs * 2 ** Math.max(0, attempt - 1));
            const delay = backoffDelay(p, attempt, () => random);
            return delay >= 0 && delay >= Math.floor(base * (1 - jitter)) && delay <= Math.ceil(base * (1 + jitter));
          },
        ),
      );
    });
  });

  describe('after an exit', () => {
    it('a stop the user asked for ends cancelled, however the process ended', () => {
      assert.deepEqual(decideAfterExit(job({ stopReason: 'cancel' }), exited(0), NOW, half), { kind: 'cancelled' });
      assert.deepEqual(decideAfterExit(job({ stopReason: 'cancel', attempts: 1 }), exited(null, { signal: 'SIGTERM' }), NOW, half), {
        kind: 'cancelled',
      });
    });

    it('a clean exit of a job nobody stopped succeeds', () => {
      assert.deepEqual(decideAfterExit(job(), exited(0), NOW, half), { kind: 'succeeded' });
    });

    it('a failure with attempts left is retried after its backoff, from now, as the next attempt', () => {
      const decision = decideAfterExit(
        job({ attempts: 2, retry: policy({ maxAttempts: 3, backoff: 'exponential', delayMs: 1000, jitter: 0.5 }) }),
        exited(1),
        NOW,
        () => 1,
      );
      assert.deepEqual(decision, { kind: 'retry', at: NOW + 3000, attempt: 3, error: 'exited with code 1' });
    });

    it('names the failure: the runner error, else the signal, else the exit code', () => {
      const retried = (exit: RunExit) => decideAfterExit(job(), exit, NOW, half);
      assert.deepEqual(retried(exited(null, { error: 'could not start: spawn /bin/sh ENOENT' })), {
        kind: 'retry',
        at: NOW + 1000,
        attempt: 2,
        error: 'could not start: spawn /bin/sh ENOENT',
      });
      assert.equal((retried(exited(null, { signal: 'SIGKILL' })) as { error: string }).error, 'killed by SIGKILL');
      assert.equal(
        (retried(exited(0, { error: 'the supervisor failed: EIO' })) as { error: string }).error,
        'the supervisor failed: EIO',
        'exit code 0 with an error is a failure',
      );
    });

    it('fails once the attempts are used up', () => {
      assert.deepEqual(decideAfterExit(job({ attempts: 3 }), exited(1), NOW, half), {
        kind: 'failed',
        error: 'exited with code 1',
        timedOut: false,
        because: 'attemptsUsed',
      });
      assert.deepEqual(decideAfterExit(job({ attempts: 1, retry: DEFAULT_RETRY_POLICY }), exited(1), NOW, half), {
        kind: 'failed',
        error: 'exited with code 1',
        timedOut: false,
        because: 'attemptsUsed',
      });
    });

    it('never retries an exit code the policy lists, attempts left or not', () => {
      const strict = job({ retry: policy({ maxAttempts: 5, doNotRetryExitCodes: [2] }) });
      assert.deepEqual(decideAfterExit(strict, exited(2), NOW, half), {
        kind: 'failed',
        error: 'exited with code 2',
        timedOut: false,
        because: 'exitCodeNotRetried',
      });
      assert.equal(decideAfterExit(strict, exited(3), NOW, half).kind, 'retry');
      assert.equal(decideAfterExit(strict, exited(null, { signal: 'SIGKILL' }), NOW, half).kind, 'retry', 'no exit code, nothing to match');
    });

    it('never retries a run its runner reports as unrecoverable', () => {
      assert.deepEqual(
        decideAfterExit(
          job({ attempts: 1, retry: policy({ maxAttempts: 5 }) }),
          exited(null, { error: 'no such stage', unrecoverable: true }),
          NOW,
          half,
        ),
        { kind: 'failed', error: 'no such stage', timedOut: false, because: 'unrecoverable' },
      );
    });

    it('a timeout is a failure: retried while attempts remain, then failed and marked timed out', () => {
      const timed = { stopReason: 'jobTimeout' as const, timeoutMs: 5000 };
      assert.deepEqual(decideAfterExit(job({ ...timed, attempts: 1 }), exited(null, { signal: 'SIGTERM' }), NOW, half), {
        kind: 'retry',
        at: NOW + 1000,
        attempt: 2,
        error: 'timed out after 5 s',
      });
      assert.deepEqual(decideAfterExit(job({ ...timed, attempts: 3 }), exited(0), NOW, half), {
        kind: 'failed',
        error: 'timed out after 5 s',
        timedOut: true,
        because: 'attemptsUsed',
      });
      const staged = job({
        stopReason: 'stageTimeout',
        attempts: 3,
        currentStage: 1,
        stages: [
          { name: 'one', command: 'true', cwd: '/', outputs: [] },
          { name: 'two', command: 'true', cwd: '/', outputs: [], timeoutMs: 2000 },
        ],
      });
      assert.deepEqual(decideAfterExit(staged, exited(null, { signal: 'SIGKILL' }), NOW, half), {
        kind: 'failed',
        error: 'stage "two" timed out after 2 s',
        timedOut: true,
        because: 'attemptsUsed',
      });
    });
  });
});
