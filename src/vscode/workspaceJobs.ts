import * as vscode from 'vscode';
import { AllowedFolders } from '../core/workspaceConfig/allowedFolders';
import { jobFoldersOutside } from '../core/workspaceConfig/jobFolders';
import type { WorkspaceConfigRead, WorkspaceConfigState } from '../core/workspaceConfig/workspaceConfigReader';
import { WorkspaceConfigReader } from '../core/workspaceConfig/workspaceConfigReader';
import { WORKSPACE_CONFIG_PATH } from '../core/workspaceConfig/workspaceConfigFile';
import type { WorkspaceConfigProblem } from '../core/workspaceConfig/workspaceConfigProblems';
import { TextPositions } from '../core/workspaceConfig/workspaceConfigProblems';
import type { Logger } from '../core/logger';
import type { JobDefinition } from '../shared/workspaceConfig';

/** The `source` of Lifeline's diagnostics, as the Problems panel shows it. */
export const DIAGNOSTIC_SOURCE = 'Lifeline';

/** How long the status bar says that the file has problems; the Problems panel keeps them. */
const STATUS_MESSAGE_MS = 20_000;

/** How long the file's watcher events must pause before the file is read. */
const SETTLE_MS = 100;

/**
 * The job definitions of `.vscode/lifeline.json`, read again when the file changes. A malformed
 * file keeps the definitions last read (nothing is half-applied) and says what is wrong once in
 * the log, as diagnostics on the file at each field (Problems panel, squiggles), briefly in the
 * status bar, and in `problem` for the quick pick. Diagnostics and the status message go as soon
 * as the file is fixed, which a notification could not (the API cannot withdraw one).
 */
export class WorkspaceJobs implements vscode.Disposable {
  private state: WorkspaceConfigState = { definitions: [], problem: undefined, errors: [], warnings: [], askBeforeRunning: new Set() };
  private readonly disposables: vscode.Disposable[] = [];
  private readonly diagnostics = vscode.languages.createDiagnosticCollection('lifeline');
  private readonly reader: WorkspaceConfigReader;
  private readonly allowedFolders: AllowedFolders;
  private statusMessage: { problem: string; message: vscode.Disposable } | undefined;
  private reading: Promise<void> = Promise.resolve();
  private settling: NodeJS.Timeout | undefined;
  private disposed = false;

  constructor(
    private readonly folder: vscode.WorkspaceFolder,
    private readonly logger: Logger,
    storageDirectory: string,
  ) {
    this.allowedFolders = new AllowedFolders(storageDirectory, logger);
    this.reader = new WorkspaceConfigReader(folder.uri.fsPath, logger, this.allowedFolders);
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(folder, WORKSPACE_CONFIG_PATH));
    // One save fires the watcher more than once, and a read between the events can see a file
    // half written: read once the events stop coming.
    const reread = (): void => {
      clearTimeout(this.settling);
      this.settling = setTimeout(() => void this.reload(true), SETTLE_MS);
    };
    this.disposables.push(
      { dispose: () => clearTimeout(this.settling) },
      this.diagnostics,
      watcher,
      watcher.onDidCreate(reread),
      watcher.onDidChange(reread),
      watcher.onDidDelete(reread),
    );
    this.reading = this.safeRead(false);
  }

  /** The workspace folder the definitions belong to (relative job folders resolve against it). */
  get folderPath(): string {
    return this.folder.uri.fsPath;
  }

  get uri(): vscode.Uri {
    return vscode.Uri.joinPath(this.folder.uri, WORKSPACE_CONFIG_PATH);
  }

  /** The definitions as last read; waits for a read in progress. */
  async definitions(): Promise<readonly JobDefinition[]> {
    await this.reading;
    return this.state.definitions;
  }

  /** Why the file could not be used, or undefined when it was read (or is absent). */
  get problem(): string | undefined {
    return this.state.problem;
  }

  /** Whether the job, as last read, runs outside the workspace folder where it has not been allowed. */
  asksBeforeRunning(name: string): boolean {
    return this.state.askBeforeRunning.has(name);
  }

  /**
   * The folders outside the workspace that a definition of the file would run in and that the
   * user has not allowed for it. Checked again now, not taken from the last read: a symlink may
   * have changed, or another window may have allowed them meanwhile.
   */
  async foldersToAllow(definition: JobDefinition): Promise<string[]> {
    await this.allowedFolders.load();
    const outside = jobFoldersOutside(definition, this.folder.uri.fsPath).filter(
      (found) => !this.allowedFolders.isAllowed(definition.name, found.folder),
    );
    return [...new Set(outside.map((found) => found.folder))];
  }

  /** Remembers, on disk, that the job may run in these folders; its warnings go. */
  async allowFolders(definition: JobDefinition, folders: readonly string[]): Promise<void> {
    await this.allowedFolders.allow(definition.name, folders);
    await this.reload(false);
  }

  reload(notify: boolean): Promise<void> {
    this.reading = this.reading.then(() => this.safeRead(notify));
    return this.reading;
  }

  /** A read that fails unexpectedly is logged; the next change of the file reads again. */
  private safeRead(notify: boolean): Promise<void> {
    return this.read(notify).catch((error: unknown) =>
      this.logger.error(`[workspaceJobs] reading ${WORKSPACE_CONFIG_PATH} failed: ${String(error)}`),
    );
  }

  private async read(notify: boolean): Promise<void> {
    let input: WorkspaceConfigRead;
    try {
      input = { text: new TextDecoder().decode(await vscode.workspace.fs.readFile(this.uri)) };
    } catch (error) {
      input =
        error instanceof vscode.FileSystemError && error.code === 'FileNotFound' ? { missing: true } : { failed: (error as Error).message };
    }
    await this.allowedFolders.load();
    if (this.disposed) return; // the session closed meanwhile: its diagnostics are gone with it
    this.state = this.reader.read(input);
    this.publish('text' in input ? input.text : '');
    this.showStatus(notify);
  }

  private publish(text: string): void {
    const positions = new TextPositions(text);
    const toDiagnostic = (problem: WorkspaceConfigProblem, severity: vscode.DiagnosticSeverity): vscode.Diagnostic => {
      const start = positions.position(problem.offset);
      const end = positions.position(problem.offset + problem.length);
      const range = new vscode.Range(start.line - 1, start.column - 1, end.line - 1, end.column - 1);
      const diagnostic = new vscode.Diagnostic(range, problem.path ? `${problem.path}: ${problem.message}` : problem.message, severity);
      diagnostic.source = DIAGNOSTIC_SOURCE;
      return diagnostic;
    };
    const diagnostics = [
      ...this.state.errors.map((problem) => toDiagnostic(problem, vscode.DiagnosticSeverity.Error)),
      ...this.state.warnings.map((problem) => toDiagnostic(problem, vscode.DiagnosticSeverity.Warning)),
    ];
    if (diagnostics.length > 0) this.diagnostics.set(this.uri, diagnostics);
    else this.diagnostics.delete(this.uri);
  }

  /** A short status bar message on a new problem, after an edit; withdrawn as soon as the file is fixed. */
  private showStatus(notify: boolean): void {
    const problem = this.state.problem;
    if (problem === this.statusMessage?.problem) return;
    this.statusMessage?.message.dispose();
    this.statusMessage = undefined;
    if (!problem || !notify) return;
    const count = this.state.errors.length;
    const text = `$(warning) Lifeline: ${WORKSPACE_CONFIG_PATH} ${count > 1 ? `has ${count} problems` : 'has a problem'} (see Problems)`;
    this.statusMessage = { problem, message: vscode.window.setStatusBarMessage(text, STATUS_MESSAGE_MS) };
  }

  dispose(): void {
    this.disposed = true;
    this.statusMessage?.message.dispose();
    while (this.disposables.length) this.disposables.pop()?.dispose();
  }
}
