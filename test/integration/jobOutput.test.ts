import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import * as vscode from 'vscode';
import type { Job } from '../../src/core/queue/jobModel';
import { AesGcmCipher, generateKey } from '../../src/core/storage/aesGcmCipher';
import { SealedLogWriter } from '../../src/core/storage/sealedLog';
import type { LifelineQueueApi } from '../../src/extension';
import { JOB_OUTPUT_SCHEME } from '../../src/vscode/jobOutputDocuments';
import { readyQueue as queue } from './integrationKit';

function finished(q: LifelineQueueApi, jobId: string): Promise<Job> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const job = q.getJob(jobId);
      if (!job || (job.state !== 'succeeded' && job.state !== 'failed')) return;
      subscription.dispose();
      clearTimeout(timer);
      resolve(job);
    };
    const subscription = q.onDidChange(check);
    const timer = setTimeout(() => reject(new Error(`job ${jobId} did not finish`)), 45_000);
    check();
  });
}

describe('Show Output of plain and encrypted job logs (in a real extension host)', () => {
  it('opens a plain log as its file, and a sealed one through lifeline-output:, which without its key says so instead of opening', async () => {
    const q = await queue();
    const marker = `OUT${randomBytes(6).toString('hex')}`;
    const jobId = await vscode.commands.executeCommand<string>('lifeline.runJob', { name: 'output view', command: `echo ${marker}` });
    const job = await finished(q, jobId);
    const path = q.outputLogPath(job);
    assert.ok(path);

    assert.equal(await vscode.commands.executeCommand<string>('lifeline.showJobOutput', jobId), path);
    const plain = vscode.window.activeTextEditor?.document;
    assert.equal(plain?.uri.scheme, 'file');
    assert.ok(plain?.getText().includes(marker));
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');

    // The same output, sealed with a key this window was never given.
    const writer = new SealedLogWriter(new AesGcmCipher(generateKey()));
    writeFileSync(path, Buffer.concat([writer.header(), writer.output(readFileSync(path)), writer.end()]));
    // The provider is there, and refuses for want of the key (the typed reason does not cross into VS Code's error).
    await assert.rejects(
      Promise.resolve(vscode.workspace.openTextDocument(vscode.Uri.file(path).with({ scheme: JOB_OUTPUT_SCHEME }))),
      /is encrypted with key [0-9a-f]+, and no key was given/,
    );
    assert.equal(await vscode.commands.executeCommand('lifeline.showJobOutput', jobId), undefined, 'locked: a warning, no document');
    assert.equal(vscode.window.activeTextEditor, undefined);
  });
});
