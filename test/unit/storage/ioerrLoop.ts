import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobError } from '../../../src/core/queue/jobErrors';
import { StorageError } from '../../../src/core/storage/errors';
import { FaultFs } from './faultFs';

/**
 * Issue 16, "I/O errors at every step": SQLite's ioerr loop. For each operation, call N of the
 * file system fails (EIO once; ENOSPC from N on, a disk that stays full) for N = 1, 2, ... until a
 * run makes no call fail. Each run either completes or rejects with a typed error (ENOSPC is
 * `diskFull`); then, with the fault removed and the same object still open, the next operation
 * works (nothing freezes), and a reopen gives what memory holds: every acknowledged commit, each
 * batch whole or absent. Workloads are small so the loop stays cheap in CI.
 */
export type Code = 'EIO' | 'ENOSPC';

export interface Scenario {
  /** Builds the files to start from, with no fault. */
  setup(dir: string): Promise<void>;
  /** The operation under test, with the fault on. */
  run(): Promise<void>;
  /** With the fault removed: the next operation on the same objects works, and a reopen agrees. */
  verify(failed: unknown): Promise<void>;
  /** Closes whatever is still open. */
  close(): Promise<void>;
}

/** The error a failed run may end with: typed, and a full disk said as such. */
export function assertTyped(error: unknown, code: Code): void {
  const typed = StorageError.is(error) || JobError.is(error);
  assert.ok(typed, `an untyped error escaped: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  if (code === 'ENOSPC') {
    assert.ok(
      StorageError.is(error, 'diskFull') || JobError.is(error, 'diskFull'),
      `ENOSPC must read as diskFull, got ${(error as StorageError).reason}: ${(error as Error).message}`,
    );
  }
}

/** Runs the loop for one scenario and code; returns how many runs it took. */
export async function ioerrLoop(code: Code, make: () => Scenario, maxRuns = 400): Promise<number> {
  const fault = new FaultFs();
  try {
    for (let n = 1; n <= maxRuns; n++) {
      const dir = mkdtempSync(join(tmpdir(), 'lifeline-ioerr-'));
      const scenario = make();
      try {
        await scenario.setup(dir);
        fault.failNth(n, code, code === 'ENOSPC');
        let failed: unknown;
        try {
          await scenario.run();
        } catch (error) {
          failed = error ?? new Error('rejected with nothing');
        }
        const injected = fault.injected;
        const trace = fault.trace.slice(Math.max(0, n - 3), n).join(', ');
        fault.heal();
        try {
          if (failed !== undefined) assertTyped(failed, code);
          await scenario.verify(failed);
        } catch (error) {
          (error as Error).message = `${code} at call ${n} (…${trace}): ${(error as Error).message}`;
          throw error;
        }
        if (injected === 0) {
          assert.equal(failed, undefined, `a run with no failure rejected: ${String(failed)}`);
          return n;
        }
      } finally {
        fault.heal();
        await scenario.close().catch(() => undefined);
        rmSync(dir, { recursive: true, force: true });
      }
    }
    throw new Error(`no run completed within ${maxRuns} calls`);
  } finally {
    fault.dispose();
  }
}
