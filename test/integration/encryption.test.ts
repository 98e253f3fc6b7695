import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { Job } from '../../src/core/queue/jobModel';
import type { LifelineQueueApi, LifelineTestingApi } from '../../src/extension';
import { lifelineApi as api, until } from './integrationKit';

const MARKER = 'ZQX-encryption-it-marker';

/** Files of the queue, history and state stores holding `text` in plain bytes. */
function plainHolders(storage: string, text: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (readFileSync(path).includes(text)) found.push(path);
    }
  };
  for (const folder of ['queue', 'history', 'state', 'jobs']) walk(join(storage, folder));
  return found;
}

async function finished(queue: LifelineQueueApi, jobId: string): Promise<Job> {
  await until(
    queue.onDidChange as vscode.Event<unknown> as vscode.Event<void>,
    () => queue.getJob(jobId)?.state === 'succeeded',
    `job ${jobId} succeeds`,
  );
  const job = queue.getJob(jobId);
  assert.ok(job);
  return job;
}

describe('encryption at rest (in a real extension host)', function () {
  this.timeout(120_000);
  let scratch = '';
  before(() => (scratch = mkdtempSync(join(tmpdir(), 'lifeline-encryption-it-'))));
  after(async () => {
    // Leave the workspace plain for the tests after this one.
    const lifeline = await api();
    if ((await lifeline.whenQueueReady()) !== undefined) {
      await vscode.commands.executeCommand('lifeline.disableEncryption', { confirmed: true });
    }
    rmSync(scratch, { recursive: true, force: true });
  });

  it('enables encryption, survives a reopen, and with the key gone asks for the recovery key: nothing lost', async () => {
    const lifeline = await api();
    const testing = lifeline.testing as LifelineTestingApi;
    assert.ok(testing, 'the test host exposes the testing API');
    const storage = lifeline.storageDirectory;
    assert.ok(storage);
    let queue = await lifeline.whenQueueReady();
    assert.ok(queue && queue.role === 'holder');
    const before = await queue.execute({ type: 'enqueue', definition: { name: 'before encryption', command: `echo ${MARKER}-1` } });
    await finished(queue, String(before.jobId));
    assert.ok(plainHolders(storage, MARKER).length > 0, 'plain before');

    const keyFile = vscode.Uri.file(join(scratch, 'recovery-key.txt'));
    const enabled = await vscode.commands.executeCommand<{ keyFingerprint: string; stores: number; error?: string }>(
      'lifeline.enableEncryption',
      { confirmed: true, saveRecoveryKeyTo: keyFile },
    );
    assert.equal(enabled?.error, undefined);
    assert.equal(enabled?.stores, 3);
    const recoveryKey = readFileSync(keyFile.fsPath, 'utf8').split('\n')[1] ?? '';
    assert.match(recoveryKey, /^([0-9A-Z]{8}-){7}[0-9A-Z]{8}$/);
    // Export Recovery Key… gives the same key again while it is in the keychain.
    const exportedFile = vscode.Uri.file(join(scratch, 'exported-key.txt'));
    const exported = await vscode.commands.executeCommand<{ keyFingerprint: string }>('lifeline.exportRecoveryKey', {
      saveRecoveryKeyTo: exportedFile,
    });
    assert.equal(exported?.keyFingerprint, enabled?.keyFingerprint);
    assert.equal(readFileSync(exportedFile.fsPath, 'utf8').split('\n')[1], recoveryKey);
    assert.deepEqual(plainHolders(storage, MARKER), [], 'no store file holds the command in plain');
    const during = await queue.execute({ type: 'enqueue', definition: { name: 'while encrypted', command: `echo ${MARKER}-2` } });
    const sealedJob = await finished(queue, String(during.jobId));
    assert.deepEqual(plainHolders(storage, MARKER), []);
    // Show Output of the sealed log: a read-only document, decrypted with the workspace's key.
    assert.notEqual(await vscode.commands.executeCommand('lifeline.showJobOutput', sealedJob.id), undefined);
    const shown = vscode.window.activeTextEditor?.document;
    assert.equal(shown?.uri.scheme, 'lifeline-output');
    assert.ok(shown?.getText().includes(`${MARKER}-2`), 'the output reads back decrypted');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');

    // A reload with the key in the keychain: everything comes back.
    assert.equal(await testing.reopenQueue(), true);
    queue = await lifeline.whenQueueReady();
    assert.ok(queue);
    assert.deepEqual(
      queue.jobs.filter((job) => job.name !== undefined && /encrypt/.test(job.name)).map((job) => `${job.name}:${job.state}`),
      ['before encryption:succeeded', 'while encrypted:succeeded'],
    );

    // A reload after the keychain lost the key: nothing opens, nothing is re-created or quarantined.
    assert.equal(await testing.reopenQueue({ forgetKey: true }), false);
    assert.match(testing.unavailableReason ?? '', /encrypted/);
    assert.equal(await lifeline.whenQueueReady(), undefined);
    assert.ok(!existsSync(join(storage, 'queue', 'quarantine')) || readdirSync(join(storage, 'queue', 'quarantine')).length === 0);

    // A mistyped recovery key is refused and changes nothing; the right one opens everything.
    const mistyped = `${recoveryKey.slice(0, 3)}${recoveryKey[3] === 'A' ? 'B' : 'A'}${recoveryKey.slice(4)}`;
    const refused = await vscode.commands.executeCommand<{ error?: string }>('lifeline.enterRecoveryKey', mistyped);
    assert.match(refused?.error ?? '', /Group 1/);
    assert.equal(await lifeline.whenQueueReady(), undefined);
    const entered = await vscode.commands.executeCommand<{ opened: boolean }>('lifeline.enterRecoveryKey', recoveryKey.toLowerCase());
    assert.equal(entered?.opened, true);
    queue = await lifeline.whenQueueReady();
    assert.ok(queue);
    assert.deepEqual(
      queue.jobs.filter((job) => /encrypt/.test(job.name)).map((job) => `${job.name}:${job.state}`),
      ['before encryption:succeeded', 'while encrypted:succeeded'],
      'nothing acknowledged was lost',
    );
    const history = await lifeline.whenHistoryReady();
    assert.ok(history?.recent(50).some((entry) => entry.name === 'while encrypted'));

    // Disable: plain again.
    const disabled = await vscode.commands.executeCommand<{ stores: number; error?: string }>('lifeline.disableEncryption', {
      confirmed: true,
    });
    assert.equal(disabled?.error, undefined);
    assert.ok(plainHolders(storage, MARKER).length > 0, 'plain after turning encryption off');
  });
});
