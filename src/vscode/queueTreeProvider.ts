import * as vscode from 'vscode';

/**
 * The Queue tree view. The queue itself arrives with the job queue core; until a job exists the
 * tree is empty and VS Code shows the view's welcome content (package.json `viewsWelcome`).
 */
export class QueueTreeProvider implements vscode.TreeDataProvider<never>, vscode.Disposable {
  private readonly _onDidChangeTreeData = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this._onDidChangeTreeData.event;

  getTreeItem(element: never): vscode.TreeItem {
    return element;
  }

  getChildren(): never[] {
    return [];
  }

  refresh(): void {
    this._onDidChangeTreeData.fire();
  }

  dispose(): void {
    this._onDidChangeTreeData.dispose();
  }
}
