import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_CONCURRENCY, queueCommandSchema, queueFlagsSchema } from '../../../src/core/queue/jobModel';

/** The concurrency cap has one home (jobModel.ts); the manifest, which cannot import it, is held to it here. */
describe('jobs: one concurrency cap', () => {
  it('the setting lifeline.queue.concurrency allows at most the cap the queue accepts', () => {
    const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', '..', 'package.json'), 'utf8')) as {
      contributes: { configuration: { properties: Record<string, { maximum?: number }> } };
    };
    assert.equal(manifest.contributes.configuration.properties['lifeline.queue.concurrency']?.maximum, MAX_CONCURRENCY);
  });

  it('the queue accepts a limit up to the cap and refuses one above it', () => {
    const setTo = (limit: number) => queueCommandSchema.safeParse({ type: 'setConcurrency', limit }).success;
    assert.equal(setTo(MAX_CONCURRENCY), true);
    assert.equal(setTo(MAX_CONCURRENCY + 1), false);
    assert.equal(queueFlagsSchema.safeParse({ concurrency: MAX_CONCURRENCY + 1 }).success, false);
  });
});
