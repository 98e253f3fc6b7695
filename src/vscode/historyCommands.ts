import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import * as vscode from 'vscode';
import type { ExportFormat, ExportScope } from '../core/history/historyExport';
import { exportHistory } from '../core/history/historyExport';
import type { JobHistory } from '../core/history/jobHistory';
import type { Logger } from '../core/logger';
import type { HistoryHost } from './historyHost';
import { CommandIds } from '../shared/commandIds';

/** The history commands (the panel's is registered with the panel): export (streamed to a file the user picks) and archival on demand. */
export function registerHistoryCommands(
  host: () => HistoryHost | undefined,
  unavailableReason: () => string | undefined,
  logger: Logger,
): vscode.Disposable[] {
  const requireHistory = async (): Promise<JobHistory | undefined> => {
    const history = await host()?.whenOpen();
    if (!history) {
      void vscode.window.showWarningMessage(`Lifeline: ${host()?.unavailableReason ?? unavailableReason() ?? 'the history is not open.'}`);
    }
    return history;
  };

  return [
    vscode.commands.registerCommand(CommandIds.archiveHistoryNow, async () => {
      const history = await requireHistory();
      if (!history) return undefined;
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'Lifeline: archiving old history' },
        () => history.archiveNow(),
      );
      void vscode.window.showInformationMessage(
        result.archived > 0
          ? `Lifeline: archived ${result.archived} entries in ${result.batches} batch(es).`
          : 'Lifeline: nothing to archive; the recent history is within its limit.',
      );
      return result.archived;
    }),
    vscode.commands.registerCommand(
      CommandIds.exportHistory,
      async (options?: { target?: vscode.Uri; format?: ExportFormat; scope?: ExportScope }) => {
        const history = await requireHistory();
        if (!history) return undefined;
        const scope = options?.scope ?? (await pickScope());
        if (!scope) return undefined;
        const format = options?.format ?? (await pickFormat());
        if (!format) return undefined;
        const target =
          options?.target ??
          (await vscode.window.showSaveDialog({
            title: 'Lifeline: Export Job History',
            saveLabel: 'Export',
            defaultUri: vscode.Uri.joinPath(
              vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(process.cwd()),
              `lifeline-history.${format}`,
            ),
            filters: format === 'csv' ? { CSV: ['csv'] } : { JSON: ['json'] },
          }));
        if (!target) return undefined;
        if (target.scheme !== 'file') {
          void vscode.window.showErrorMessage('Lifeline: the history can be exported only to a file on this machine.');
          return undefined;
        }
        return vscode.window.withProgress(
          { location: vscode.ProgressLocation.Notification, title: 'Lifeline: exporting the job history', cancellable: false },
          async () => {
            const out = createWriteStream(target.fsPath);
            try {
              const result = await exportHistory(history, out, { format, scope });
              out.end();
              await once(out, 'finish');
              logger.info(`[history] exported ${result.count} entries (${scope}) to ${target.fsPath}`);
              const lost = result.lost.length > 0 ? ` ${result.lost.length} damaged archive shard(s) were skipped.` : '';
              void vscode.window.showInformationMessage(`Lifeline: exported ${result.count} entries to ${target.fsPath}.${lost}`);
              return result.count;
            } catch (error) {
              out.destroy();
              void vscode.window.showErrorMessage(`Lifeline: the export failed: ${error instanceof Error ? error.message : String(error)}`);
              return undefined;
            }
          },
        );
      },
    ),
  ];
}

async function pickScope(): Promise<ExportScope | undefined> {
  const picked = await vscode.window.showQuickPick(
    [
      { label: 'Everything', description: 'recent history and the archive', scope: 'both' as const },
      { label: 'Recent history', scope: 'active' as const },
      { label: 'Archive', scope: 'archive' as const },
    ],
    { title: 'Lifeline: Export Job History', placeHolder: 'Which entries?' },
  );
  return picked?.scope;
}

async function pickFormat(): Promise<ExportFormat | undefined> {
  const picked = await vscode.window.showQuickPick(
    [
      { label: 'CSV', format: 'csv' as const },
      { label: 'JSON', format: 'json' as const },
    ],
    { title: 'Lifeline: Export Job History', placeHolder: 'Format' },
  );
  return picked?.format;
}
