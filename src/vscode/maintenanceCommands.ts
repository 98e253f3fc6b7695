import * as vscode from 'vscode';
import type { Logger } from '../core/logger';
import type { AuditOrigin } from '../core/queue/jobModel';
import { CleanupError, describeCleanup } from '../core/runtime/runtimeCleanup';
import type { CleanupReport } from '../core/runtime/runtimeCleanup';
import type { WorkspaceRuntime } from '../core/runtime/workspaceRuntime';
import { CommandIds } from '../shared/commandIds';

/**
 * Clean Up Now and Export Audit Log… (docs/cleanup.md, docs/audit.md). Each returns what it did,
 * so that `executeCommand` callers (the integration tests) can check it; the export takes an
 * optional target instead of asking.
 */
export function registerMaintenanceCommands(
  runtime: () => WorkspaceRuntime | undefined,
  origin: AuditOrigin,
  unavailableReason: () => string | undefined,
  logger: Logger,
): vscode.Disposable[] {
  const requireRuntime = (): WorkspaceRuntime | undefined => {
    const opened = runtime();
    if (!opened) void vscode.window.showWarningMessage(`Lifeline: ${unavailableReason() ?? 'the workspace is still opening.'}`);
    return opened;
  };

  return [
    vscode.commands.registerCommand(CommandIds.cleanUpNow, async (): Promise<CleanupReport | undefined> => {
      const cleanup = requireRuntime()?.services.cleanup;
      if (!cleanup) return undefined;
      try {
        const report = await vscode.window.withProgress(
          { location: vscode.ProgressLocation.Notification, title: 'Lifeline: cleaning up' },
          () => cleanup.runNow(origin),
        );
        void vscode.window.showInformationMessage(`Lifeline cleanup: ${describeCleanup(report)}.`);
        return report;
      } catch (error) {
        if (CleanupError.is(error, 'notHolder')) void vscode.window.showWarningMessage(`Lifeline: ${error.message}`);
        else {
          logger.error(`[cleanup] ${String(error)}`);
          void vscode.window.showErrorMessage(`Lifeline: the cleanup failed: ${(error as Error).message}`);
        }
        return undefined;
      }
    }),
    vscode.commands.registerCommand(CommandIds.exportAuditLog, async (options?: { target?: vscode.Uri }): Promise<number | undefined> => {
      const audit = requireRuntime()?.services.audit;
      if (!audit) return undefined;
      const target =
        options?.target ??
        (await vscode.window.showSaveDialog({
          title: 'Lifeline: Export Audit Log',
          saveLabel: 'Export',
          defaultUri: vscode.Uri.joinPath(
            vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(process.cwd()),
            `lifeline-audit-${new Date().toISOString().slice(0, 10)}.jsonl`,
          ),
          filters: { 'JSON Lines': ['jsonl'] },
        }));
      if (!target) return undefined;
      try {
        const count = await audit.exportTo(target.fsPath);
        void vscode.window.showInformationMessage(`Lifeline: exported ${count} audit log entries to ${target.fsPath}.`);
        return count;
      } catch (error) {
        logger.error(`[audit] export failed: ${String(error)}`);
        void vscode.window.showErrorMessage(`Lifeline: could not export the audit log: ${(error as Error).message}`);
        return undefined;
      }
    }),
  ];
}
