import * as assert from 'node:assert/strict';
import { readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as vscode from 'vscode';
import type { Job } from '../../src/core/queue/jobModel';
import type { LifelineApi, LifelineQueueApi } from '../../src/extension';

const extensionId = 'lifeline.lifeline';

async function lifeline(): Promise<{ api: LifelineApi; queue: LifelineQueueApi }> {
  const extension = vscode.extensions.getExtension<LifelineApi>(extensionId);
  assert.ok(extension);
  const api = await extension.activate();
  const queue = await api.whenQueueReady();
  assert.ok(queue, 'a trusted folder is open, so the queue (and the job definitions) open');
  return { api, queue };
}

function configUri(): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder);
  return vscode.Uri.joinPath(folder.uri, '.vscode', 'lifeline.json');
}

function lifelineDiagnostics(uri: vscode.Uri): vscode.Diagnostic[] {
  return vscode.languages.getDiagnostics(uri).filter((diagnostic) => diagnostic.source === 'Lifeline');
}

/** Resolves once Lifeline's diagnostics on the file satisfy `done`, re-checking on every change of diagnostics. */
function waitForDiagnostics(
  uri: vscode.Uri,
  done: (diagnostics: vscode.Diagnostic[]) => boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<vscode.Diagnostic[]> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const diagnostics = lifelineDiagnostics(uri);
      if (!done(diagnostics)) return;
      subscription.dispose();
      clearTimeout(timer);
      resolve(diagnostics);
    };
    const subscription = vscode.languages.onDidChangeDiagnostics(check);
    const timer = setTimeout(() => {
      subscription.dispose();
      reject(
        new Error(
          `timed out waiting for ${what}; Lifeline's diagnostics: ${JSON.stringify(lifelineDiagnostics(uri).map((d) => d.message))}`,
        ),
      );
    }, timeoutMs);
    check();
  });
}

function waitForJob(q: LifelineQueueApi, jobId: string, done: (job: Job) => boolean, what: string, timeoutMs = 45_000): Promise<Job> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const job = q.getJob(jobId);
      if (!job || !done(job)) return;
      subscription.dispose();
      clearTimeout(timer);
      resolve(job);
    };
    const subscription = q.onDidChange(check);
    const timer = setTimeout(() => {
      subscription.dispose();
      reject(new Error(`timed out waiting for ${what}; the job is ${JSON.stringify(q.getJob(jobId)?.state)}`));
    }, timeoutMs);
    check();
  });
}

const write = (uri: vscode.Uri, text: string): Thenable<void> => vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(text));

describe('.vscode/lifeline.json problems (in a real extension host)', () => {
  let original: Uint8Array;

  before(async () => {
    await lifeline();
    original = await vscode.workspace.fs.readFile(configUri());
  });
  after(() => write(configUri(), new TextDecoder().decode(original)));

  it('puts a wrong-typed field on the Problems panel at its line, named by its path, and clears it once fixed', async () => {
    const uri = configUri();
    const lines = [
      '{',
      '  "version": 1,',
      '  "jobs": [',
      '    { "name": "Build", "command": "npm run build" },',
      '    {',
      '      "name": "Render",',
      '      "stages": [',
      '        { "name": "render", "command": "./render.sh", "timeoutSeconds": "3600" }',
      '      ]',
      '    }',
      '  ]',
      '}',
    ];
    await write(uri, lines.join('\n'));
    const [diagnostic, ...others] = await waitForDiagnostics(uri, (d) => d.length > 0, 'a diagnostic from Lifeline');
    assert.ok(diagnostic);
    assert.deepEqual(others, [], 'one problem, reported once');
    assert.equal(diagnostic.message, 'jobs[1].stages[0].timeoutSeconds: expected a number, got a string');
    assert.equal(diagnostic.severity, vscode.DiagnosticSeverity.Error);
    assert.equal(diagnostic.range.start.line, 7);
    assert.equal(diagnostic.range.start.character, (lines[7] ?? '').indexOf('"3600"'));
    assert.equal(diagnostic.range.end.character, (lines[7] ?? '').indexOf('"3600"') + '"3600"'.length);

    await write(uri, lines.join('\n').replace('"3600"', '3600'));
    await waitForDiagnostics(uri, (d) => d.length === 0, 'the diagnostic to go once the file is fixed');
  });

  it('places a syntax error at its line, and clears it once fixed', async () => {
    const uri = configUri();
    await write(uri, '{\n  "version": 1\n  "jobs": []\n}');
    const [diagnostic] = await waitForDiagnostics(uri, (d) => d.length > 0, 'a syntax error from Lifeline');
    assert.ok(diagnostic);
    assert.equal(diagnostic.message, 'not valid JSON: comma expected');
    assert.equal(diagnostic.range.start.line, 2);
    await write(uri, '{\n  "version": 1,\n  "jobs": []\n}');
    await waitForDiagnostics(uri, (d) => d.length === 0, 'the syntax error to go once fixed');
  });

  it('warns at a cwd outside the workspace, and runs the job there without asking once allowed', async () => {
    const { api, queue } = await lifeline();
    assert.ok(api.storageDirectory);
    const uri = configUri();
    const parent = realpathSync(dirname(dirname(dirname(uri.fsPath))));
    const marker = join(parent, 'lifeline-outside-pwd.txt');
    rmSync(marker, { force: true });
    const lines = [
      '{',
      '  "version": 1,',
      '  "jobs": [',
      `    { "name": "Outside", "command": "pwd -P > lifeline-outside-pwd.txt", "cwd": ".." }`,
      '  ]',
      '}',
    ];
    await write(uri, lines.join('\n'));
    const [warning] = await waitForDiagnostics(uri, (d) => d.length > 0, 'a warning at the cwd');
    assert.ok(warning);
    assert.equal(warning.severity, vscode.DiagnosticSeverity.Warning);
    assert.equal(warning.range.start.line, 3);
    assert.equal(warning.range.start.character, (lines[3] ?? '').indexOf('".."'));
    assert.match(
      warning.message,
      new RegExp(
        `^jobs\\[0\\]\\.cwd: "Outside" would run in ${parent.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, outside the workspace folder`,
      ),
    );

    // What "Allow" writes: with it on disk, the job is not asked about (a modal here would hang the test).
    writeFileSync(
      join(api.storageDirectory, 'allowed-folders.json'),
      JSON.stringify({ version: 1, allowed: [{ jobName: 'Outside', folder: parent, allowedAt: Date.now() }] }),
    );
    const jobId = await vscode.commands.executeCommand<string | undefined>('lifeline.runJob', 'Outside');
    assert.ok(jobId, 'the allowed job is queued');
    const job = await waitForJob(queue, jobId, (j) => j.state === 'succeeded' || j.state === 'failed', 'the job to finish');
    assert.equal(job.state, 'succeeded');
    assert.equal(readFileSync(marker, 'utf8').trim(), parent);
    rmSync(marker, { force: true });
    // The next read of the file knows it is allowed.
    await write(uri, `${lines.join('\n')}\n`);
    await waitForDiagnostics(uri, (d) => d.length === 0, 'the warning to go once allowed');
  });
});
