import * as vscode from 'vscode';

/**
 * The workspace's own path, which names its storage folder. The URI's authority is left out on
 * purpose: in a browser-hosted VS Code it carries the server's port, and a new port must not
 * look like a new workspace. Undefined when no folder is open.
 */
export function currentWorkspaceKey(): string | undefined {
  const file = vscode.workspace.workspaceFile;
  if (file && file.scheme !== 'untitled') return `${file.scheme}:${file.path}`;
  const folder = vscode.workspace.workspaceFolders?.[0];
  return folder ? `${folder.uri.scheme}:${folder.uri.path}` : undefined;
}
