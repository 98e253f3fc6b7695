import * as vscode from 'vscode';
import { parseWorkspaceConfig, WORKSPACE_CONFIG_PATH } from '../core/jobs/workspaceConfigFile';
import type { Logger } from '../core/logger';
import type { JobDefinition } from '../shared/workspaceConfig';

/**
 * The job definitions of `.vscode/lifeline.json`, read again when the file changes. A malformed
 * file keeps the definitions last read (nothing is half-applied) and says what is wrong, in the
 * log, in a notification naming the line or field, and in `problem` for the quick pick.
 */
export class WorkspaceJobs implements vscode.Disposable {
  private definitionsValue: readonly JobDefinition[] = [];
  private problemValue: string | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private reading: Promise<void> = Promise.resolve();

  constructor(
    private readonly folder: vscode.WorkspaceFolder,
    private readonly logger: Logger,
  ) {
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(folder, WORKSPACE_CONFIG_PATH));
    const reread = (): void => void this.reload(true);
    this.disposables.push(watcher, watcher.onDidCreate(reread), watcher.onDidChange(reread), watcher.onDidDelete(reread));
    this.reading = this.read(false);
  }

  get uri(): vscode.Uri {
    return vscode.Uri.joinPath(this.folder.uri, WORKSPACE_CONFIG_PATH);
  }

  /** The definitions as last read; waits for a read in progress. */
  async definitions(): Promise<readonly JobDefinition[]> {
    await this.reading;
    return this.definitionsValue;
  }

  /** Why the file could not be used, or undefined when it was read (or is absent). */
  get problem(): string | undefined {
    return this.problemValue;
  }

  reload(notify: boolean): Promise<void> {
    this.reading = this.reading.then(() => this.read(notify));
    return this.reading;
  }

  private async read(notify: boolean): Promise<void> {
    let text: string;
    try {
      text = new TextDecoder().decode(await vscode.workspace.fs.readFile(this.uri));
    } catch (error) {
      if (error instanceof vscode.FileSystemError && error.code === 'FileNotFound') {
        this.definitionsValue = [];
        this.problemValue = undefined;
        return;
      }
      return this.report(`${WORKSPACE_CONFIG_PATH} cannot be read: ${(error as Error).message}`, notify);
    }
    const result = parseWorkspaceConfig(text);
    if (!result.ok) return this.report(result.message, notify);
    this.definitionsValue = result.config.jobs;
    this.problemValue = undefined;
    this.logger.info(`[workspaceJobs] ${result.config.jobs.length} job definition(s) in ${WORKSPACE_CONFIG_PATH}`);
  }

  private report(message: string, notify: boolean): void {
    this.problemValue = message;
    this.logger.warn(`[workspaceJobs] ${message} (keeping the ${this.definitionsValue.length} definition(s) read before)`);
    if (!notify) return;
    void vscode.window.showErrorMessage(`Lifeline: ${message}`, 'Open File').then((choice) => {
      if (choice) void vscode.window.showTextDocument(this.uri);
    });
  }

  dispose(): void {
    while (this.disposables.length) this.disposables.pop()?.dispose();
  }
}
