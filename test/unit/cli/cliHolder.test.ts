import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSharedOptions } from '../../../src/core/control/sharedOptions';
import { writeTrustRecord } from '../../../src/core/control/workspaceTrust';
import { DEFAULT_RUNTIME_OPTIONS } from '../../../src/core/runtime/runtimeOptions';
import { exportRecoveryKey } from '../../../src/core/storage/recoveryKey';
import { useStoreFolders } from '../storeCli/storeCliTestKit';
import { runLifeline } from './cliTestKit';

describe('lifeline: holding the queue while no window does', function () {
  this.timeout(60_000);
  const folders = useStoreFolders();

  beforeEach(async () => {
    await writeTrustRecord(folders().storage, true);
  });

  it('runs the queue with the settings the window last ran it with, not the defaults', async () => {
    await writeSharedOptions(folders().storage, { ...DEFAULT_RUNTIME_OPTIONS, concurrency: 3 });
    const status = await runLifeline(folders(), ['status', '--json']);
    assert.equal(status.status, 0, status.stderr);
    assert.equal(JSON.parse(status.stdout).concurrency, 3, 'the queue follows the recorded lifeline.queue.concurrency');
    // Three jobs that each wait for the other two: they can only all finish if three run at once.
    const dir = join(folders().root, 'meet');
    const script = `mkdir -p ${dir} && touch ${dir}/$$ && while [ $(ls ${dir} | wc -l) -lt 3 ]; do sleep 0.05; done`;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await runLifeline(folders(), ['add', script])).stdout.trim());
    const waited = await runLifeline(folders(), ['wait', '--timeout', '20s', ...ids]);
    assert.equal(waited.status, 0, `all three ran at once: ${waited.stdout}${waited.stderr}`);
  });

  it('opens an encrypted workspace only with its recovery key, and reads its sealed output', async () => {
    const key = randomBytes(32);
    const runtime = await folders().openRuntime({
      keyStore: { getKey: async () => key, setKey: async () => undefined, deleteKey: async () => undefined },
    });
    await runtime.encryption.enable(key);
    await runtime.close();
    assert.match(readFileSync(join(folders().storage, 'encryption.json'), 'utf8'), /"enabled": ?true/);

    const locked = await runLifeline(folders(), ['status']);
    assert.equal(locked.status, 69);
    assert.match(locked.stderr, /encrypted[\s\S]*--recovery-key/);

    const recoveryKey = exportRecoveryKey(key);
    const env = { LIFELINE_RECOVERY_KEY: recoveryKey };
    const id = (await runLifeline(folders(), ['add', '--wait', 'echo sealed-output-line'], env)).stdout.split('\n')[0] as string;
    assert.match(id, /^[0-9a-f-]{36}$/);
    const log = await runLifeline(folders(), ['log', id, '--recovery-key', recoveryKey]);
    assert.equal(log.status, 0, log.stderr);
    assert.equal(log.stdout, 'sealed-output-line\n');
    const wrong = await runLifeline(folders(), ['status'], { LIFELINE_RECOVERY_KEY: exportRecoveryKey(randomBytes(32)) });
    assert.equal(wrong.status, 69, 'another key opens nothing');
  });
});
