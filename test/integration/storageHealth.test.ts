import * as assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { LifelineApi, LifelineQueueApi, LifelineTestingApi } from '../../src/extension';
import type { StatusBarState } from '../../src/vscode/statusBar';

/**
 * Issue 17: the status bar item in each state, and the Storage Health report, in a real
 * extension host. No API reads another extension's status bar item, so the test reads what
 * Lifeline's item shows through the test-only API that the disk-full test already uses
 * (LIFELINE_TEST_STORAGE_FAULTS). Every wait is on a change of the queue.
 */
describe('status bar and Storage Health (in a real extension host)', () => {
  let testing: LifelineTestingApi | undefined;
  let q: LifelineQueueApi;
  let release = '';

  before(async () => {
    const extension = vscode.extensions.getExtension<LifelineApi>('lifeline.lifeline');
    assert.ok(extension);
    const api = await extension.activate();
    const ready = await api.whenQueueReady();
    assert.ok(ready);
    q = ready;
    // Open before the disk is "filled" below: a history that first opens on a full disk does not open at all.
    assert.ok(await api.whenHistoryReady());
    assert.ok(api.testing, 'the integration host turns on the test-only switch');
    testing = api.testing;
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    assert.ok(folder);
    release = join(folder, 'status-bar-release');
    rmSync(release, { force: true });
  });

  after(async () => {
    testing?.setDiskFull(false);
    writeFileSync(release, '');
    await q.execute({ type: 'setPaused', paused: false });
  });

  /** Resolves once the queue is as `done` says and the status bar shows `shows`; checked now and after each change. */
  function until(done: (bar: StatusBarState) => boolean, what: string): Promise<StatusBarState> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        subscription.dispose();
        reject(new Error(`timed out waiting for ${what}; the status bar shows ${JSON.stringify(testing?.statusBar)}`));
      }, 45_000);
      const check = (): void => {
        const bar = testing?.statusBar;
        if (!bar || !done(bar)) return;
        subscription.dispose();
        clearTimeout(timer);
        resolve(bar);
      };
      const subscription = q.onDidChange(check);
      check();
    });
  }

  it('is hidden while nothing is queued or running, shows running and queued counts and paused, and says when the queue is not saving', async () => {
    const busy = q.jobs.some((job) => job.state === 'running' || job.state === 'queued');
    if (!busy) assert.equal(testing?.statusBar.visible, false, 'idle and saving: hidden');

    const { jobId } = await q.execute({
      type: 'enqueue',
      definition: { name: 'holds the status bar', command: 'while [ ! -f status-bar-release ]; do sleep 0.1; done' },
    });
    assert.ok(jobId);
    const running = await until((bar) => bar.visible && bar.text.includes('$(sync~spin) 1'), 'one running job');
    assert.match(running.text, /\$\(check\) saved (just now|\d+ s ago)/, 'this window holds the queue and has saved it');
    assert.equal(running.command, 'lifeline.openQueuePanel', 'a click opens the queue');
    assert.equal(running.backgroundColor, undefined);
    assert.match(running.accessibleLabel, /^Lifeline: 1 running/);

    await q.execute({ type: 'setPaused', paused: true });
    await q.execute({ type: 'enqueue', definition: { name: 'waits while paused 1', command: 'true' } });
    await q.execute({ type: 'enqueue', definition: { name: 'waits while paused 2', command: 'true' } });
    const paused = await until((bar) => bar.text.includes('$(clock) 2') && bar.text.includes('paused'), 'two queued, paused');
    assert.match(paused.text, /\$\(sync~spin\) 1 {2}\$\(clock\) 2 {2}\$\(circle-slash\) paused/);
    assert.match(paused.tooltip, /1 running, 2 queued \(the queue is paused/);

    testing!.setDiskFull(true);
    await assert.rejects(q.execute({ type: 'enqueue', definition: { name: 'refused while full', command: 'true' } }));
    const notSaving = testing!.statusBar;
    assert.match(notSaving.text, /\$\(error\) not saving/);
    assert.equal(notSaving.backgroundColor, 'statusBarItem.errorBackground');
    assert.equal(notSaving.command, 'lifeline.showSavingStatus', 'a click offers Retry and the details');
    assert.match(notSaving.tooltip, /\*\*Not saving\*\*: the disk is full \(ENOSPC\)/);

    testing!.setDiskFull(false);
    await vscode.commands.executeCommand('lifeline.retrySaving');
    const saved = testing!.statusBar;
    assert.doesNotMatch(saved.text, /not saving/);
    assert.match(saved.text, /\$\(check\) saved just now/);
    assert.equal(saved.backgroundColor, undefined);

    await q.execute({ type: 'setPaused', paused: false });
    writeFileSync(release, '');
    await until(
      (bar) => !bar.visible && !q.jobs.some((job) => job.state === 'running' || job.state === 'queued'),
      'every job to finish and the item to hide',
    );
  });

  it('Show Storage Health opens a report of every store, the backups, the lease, encryption and what running jobs survive', async () => {
    const uri = await vscode.commands.executeCommand<vscode.Uri | undefined>('lifeline.showStorageHealth');
    assert.ok(uri, 'the command returns the report document');
    assert.equal(uri.scheme, 'lifeline-health');
    const text = (await vscode.workspace.openTextDocument(uri)).getText();
    assert.match(text, /^# Lifeline Storage Health/);
    assert.match(text, /\| queue \| ok \| [\d.]+ (bytes|KB|MB) \| \d+ \|/, 'the queue, its size and generation');
    assert.match(text, /\| history \| ok \|/);
    assert.match(text, /\*\*Lease holder:\*\* this window: pid \d+/);
    assert.match(text, /\*\*Encryption:\*\* not encrypted/);
    assert.match(text, /\*\*Saving:\*\* saved/);
    assert.match(text, /## Backups/);
    assert.match(text, /## Damage, repairs and quarantine/);
    assert.match(text, /\| Reload Window \| keep running \|/);
    assert.match(text, /\| Quit VS Code \| keep running \| lifeline\.jobs\.whenVSCodeCloses is "finish"/);
    assert.match(text, /\| Reboot \| \*\*stop\*\* \(resumable\) \|/);

    // Verify Storage reads every byte and refreshes the same document (VS Code asks the provider again, then the document changes).
    const document = await vscode.workspace.openTextDocument(uri);
    const refreshed = new Promise<void>((resolve) => {
      const subscription = vscode.workspace.onDidChangeTextDocument((event) => {
        if (event.document !== document || !document.getText().includes('after a full verification')) return;
        subscription.dispose();
        resolve();
      });
    });
    const again = await vscode.commands.executeCommand<vscode.Uri | undefined>('lifeline.verifyStorage');
    assert.equal(again?.toString(), uri.toString());
    await refreshed;
    assert.match(document.getText(), /\| queue \| ok \|/);
  });
});
