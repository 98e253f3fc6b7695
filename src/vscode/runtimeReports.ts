import * as vscode from 'vscode';
import type { RuntimeReport } from '../core/runtime/runtimeReports';
import { CommandIds } from '../shared/commandIds';

/**
 * Turns the runtime's reports into notifications (the runtime has logged them already). Damage
 * that set something aside is always shown, so that a reset is never silent; the damaged file is
 * in `quarantine/` for a person to look at. `recoveryNeeded` is the RecoveryController's.
 */
export function showRuntimeReport(report: RuntimeReport): void {
  switch (report.type) {
    case 'queueStorage':
      if (report.event.type === 'quarantined') {
        withShowLog(
          vscode.window.showErrorMessage(
            `Lifeline: part of the saved queue was damaged and set aside in quarantine (${report.event.reason}); the queue opened from what could be read. The log says what was kept.`,
            'Show Log',
          ),
        );
      }
      return;
    case 'historyOpenFailed':
      withShowLog(vscode.window.showErrorMessage(`Lifeline: the job history could not be opened: ${report.message}`, 'Show Log'));
      return;
    case 'historyDamaged':
      void vscode.window.showErrorMessage(
        'Lifeline: the saved job history was damaged; it was set aside in quarantine and the history opened from what could be read. See the log for what was lost.',
      );
      return;
    case 'archiveShardLost':
      withShowLog(
        vscode.window.showWarningMessage(
          'Lifeline: part of the archived job history was damaged and set aside in quarantine. Restore a backup to bring it back.',
          'Show Log',
        ),
      );
      return;
    case 'archiveRepaired':
      // A repair that kept everything is in the log; a shard set aside with nothing saying what it held is shown.
      if (report.event.type === 'unknownShardQuarantined') {
        withShowLog(
          vscode.window.showWarningMessage(
            'Lifeline: an archived history file was damaged and set aside in quarantine. Restore a backup to bring it back.',
            'Show Log',
          ),
        );
      }
      return;
    case 'historyStorage':
    case 'recoveryNeeded':
      return;
  }
}

function withShowLog(choice: Thenable<string | undefined>): void {
  void choice.then((picked) => {
    if (picked) void vscode.commands.executeCommand(CommandIds.showLog);
  });
}
