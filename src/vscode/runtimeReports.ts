import * as vscode from 'vscode';
import { formatBytes } from '../core/runtime/lowDiskMonitor';
import type { RuntimeReport } from '../core/runtime/runtimeReports';
import type { StorageHealth } from '../core/runtime/storageHealth';
import type { DataLossCause, StorageEvent } from '../core/storage/storeEvents';
import { CommandIds } from '../shared/commandIds';

/**
 * Turns the runtime's reports into notifications (the runtime has logged them already). Damage
 * that set something aside is always shown, so that a reset is never silent; the damaged file is
 * in `quarantine/` for a person to look at. `recoveryNeeded` is the RecoveryController's.
 */
export function showRuntimeReport(report: RuntimeReport): void {
  switch (report.type) {
    case 'queueStorage':
      showQueueStorageEvent(report.event);
      return;
    case 'stateStorage':
      showQueueStorageEvent(report.event, 'the saved extension state');
      return;
    case 'stateOpenFailed':
      withShowLog(
        vscode.window.showErrorMessage(
          `Lifeline: the workspace state of other extensions could not be opened: ${report.message}`,
          'Show Log',
        ),
      );
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
    case 'lowDiskSpace':
      if (report.low) {
        const waiting =
          report.heldJobs === 0 ? 'queued jobs wait' : `${report.heldJobs} queued job${report.heldJobs === 1 ? '' : 's'} wait`;
        void vscode.window
          .showWarningMessage(
            `Lifeline: only ${formatBytes(report.freeBytes)} free on the disk of its storage folder, below the ${formatBytes(report.thresholdBytes)} of lifeline.storage.minFreeMB. No new job starts until there is more space: ${waiting}, running jobs go on.`,
            'Open Settings',
          )
          .then((picked) => {
            if (picked) void vscode.commands.executeCommand('workbench.action.openSettings', 'lifeline.storage.minFreeMB');
          });
      } else {
        void vscode.window.showInformationMessage(
          `Lifeline: disk space is back (${formatBytes(report.freeBytes)} free); queued jobs start again.`,
        );
      }
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

/**
 * Tells a person once when the queue stops saving (the tracker fires once per failure, not per
 * failed commit), and once when it saves again. The Queue view and dashboard show it meanwhile.
 */
export function followStorageHealth(onDidChange: (listener: (health: StorageHealth) => void) => vscode.Disposable): vscode.Disposable {
  let told = false;
  return onDidChange((health) => {
    if (health.state === 'notSaving') {
      told = true;
      void vscode.window
        .showErrorMessage(
          `Lifeline: the queue is not saving: ${health.reason}. Changes to it are refused until it can save; running jobs go on. Free space or fix the disk, then Retry.`,
          'Retry',
          'Show Log',
        )
        .then((picked) => {
          if (picked === 'Retry') void vscode.commands.executeCommand(CommandIds.retrySaving);
          if (picked === 'Show Log') void vscode.commands.executeCommand(CommandIds.showLog);
        });
    } else if (health.state === 'saved' && told) {
      told = false;
      void vscode.window.showInformationMessage('Lifeline: the queue is saving again.');
    }
  });
}

function withShowLog(choice: Thenable<string | undefined>): void {
  void choice.then((picked) => {
    if (picked) void vscode.commands.executeCommand(CommandIds.showLog);
  });
}

/**
 * What a person is told about the saved queue (or the state store: `store` names it). Every open that finds damage ends in one summary
 * event (nothing lost: `repaired` or `recoveredFromBackup` without a loss; a loss: `dataLost` or
 * `stateLost`), so the summary is shown, once, rather than each file set aside on the way.
 */
function showQueueStorageEvent(event: StorageEvent, store = 'the saved queue'): void {
  switch (event.type) {
    case 'dataLost': {
      const what =
        event.records === undefined ? 'the latest saved changes' : `${event.records} saved change${event.records === 1 ? '' : 's'}`;
      const when = event.acknowledgedBetween
        ? `, saved between ${new Date(event.acknowledgedBetween.from).toLocaleString()} and ${new Date(event.acknowledgedBetween.to).toLocaleString()},`
        : '';
      withShowLog(
        vscode.window.showErrorMessage(
          `Lifeline: part of ${store} was damaged: ${what}${when} could not be recovered (${lossCauses[event.cause]}). It opened with everything before them; the damaged files are in quarantine.`,
          'Show Log',
        ),
      );
      return;
    }
    case 'stateLost':
      withShowLog(
        vscode.window.showErrorMessage(
          `Lifeline: ${store} was damaged and no good copy or backup holds it; it opened with what its journal could give. The damaged files are in quarantine.`,
          'Show Log',
        ),
      );
      return;
    case 'recoveredFromBackup':
      withShowLog(
        vscode.window.showWarningMessage(
          `Lifeline: ${store} was damaged and was restored from its newest backup, with the changes saved since then.`,
          'Show Log',
        ),
      );
      return;
    case 'repaired':
      withShowLog(
        vscode.window.showWarningMessage(
          `Lifeline: a damaged file of ${store} was repaired from the copy kept before it; nothing was lost.`,
          'Show Log',
        ),
      );
      return;
    default:
      return;
  }
}

const lossCauses: Record<DataLossCause, string> = {
  journalMissing: 'its journal was deleted',
  journalEmptied: 'its journal was emptied',
  journalCut: 'its journal was cut short',
  journalDamaged: 'its journal was damaged',
  snapshotDamaged: 'its snapshot was damaged',
  snapshotMissing: 'its snapshot was deleted',
  manifestDamaged: 'the record of where it ended was damaged',
  manifestMissing: 'the record of where it ended was deleted',
  sequenceGap: 'a journal in the middle is missing',
};
