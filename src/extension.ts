import { randomUUID } from 'node:crypto';
import * as vscode from 'vscode';
import { openWorkspaceDirectory } from './core/storage/workspaceDirectory';
import { createLogChannel } from './vscode/logChannel';
import { QueuePanel } from './vscode/queuePanel';
import { QueueTreeProvider } from './vscode/queueTreeProvider';
import { currentWorkspaceKey } from './vscode/workspaceKey';

/** What `activate` returns: Lifeline's API for other extensions (and the integration tests). */
export interface LifelineApi {
  readonly version: string;
  /** Lifeline's folder for this workspace, or undefined when no folder is open. */
  readonly storageDirectory: string | undefined;
  readonly activationId: string;
}

export async function activate(context: vscode.ExtensionContext): Promise<LifelineApi> {
  const { channel, logger } = createLogChannel();
  context.subscriptions.push(channel);
  const version = String(context.extension.packageJSON.version);
  const activationId = randomUUID();

  // Serializers first: a restored panel must find its serializer as soon as activation starts.
  context.subscriptions.push(
    QueuePanel.registerSerializer(context.extensionUri, logger),
    { dispose: () => QueuePanel.disposeCurrent() },
    vscode.commands.registerCommand('lifeline.showLog', () => channel.show(true)),
    vscode.commands.registerCommand('lifeline.openQueuePanel', () => {
      QueuePanel.show(context.extensionUri, logger);
    }),
  );

  const tree = new QueueTreeProvider();
  context.subscriptions.push(tree, vscode.window.createTreeView('lifeline.queue', { treeDataProvider: tree, showCollapseAll: false }));

  let storageDirectory: string | undefined;
  const workspaceKey = currentWorkspaceKey();
  if (workspaceKey === undefined) {
    logger.info('[activate] no folder is open: Lifeline stays idle until one is.');
  } else {
    try {
      const directory = await openWorkspaceDirectory(context.globalStorageUri.fsPath, workspaceKey);
      storageDirectory = directory.path;
    } catch (error) {
      logger.error(`[activate] cannot open Lifeline's storage folder: ${(error as Error).message}`);
      void vscode.window.showErrorMessage(`Lifeline cannot open its storage folder: ${(error as Error).message}`, 'Show Log').then((choice) => {
        if (choice) channel.show();
      });
    }
  }
  logger.info(
    `[activate] Lifeline ${version} active (activation ${activationId}, workspace ${workspaceKey ?? 'none'}, ` +
      `${vscode.workspace.isTrusted ? 'trusted' : 'untrusted: nothing runs'}, storage ${storageDirectory ?? 'none'})`,
  );
  return { version, storageDirectory, activationId };
}

export function deactivate(): void {
  // Everything is in context.subscriptions; durable state is flushed by the stores themselves.
}
