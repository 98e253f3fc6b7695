import * as vscode from 'vscode';
import type { Logger } from '../core/logger';
import { formatBytes } from '../core/runtime/lowDiskMonitor';
import { archiveBytes } from '../core/runtime/runtimeRestore';
import type { RuntimeBackups } from '../core/runtime/runtimeBackups';
import type { WorkspaceRuntime } from '../core/runtime/workspaceRuntime';
import { readBackupFile } from '../core/storage/backupFileIo';
import type { BackupInfo } from '../core/storage/backupManager';
import { CommandIds } from '../shared/commandIds';
import { describeParts, pickBackup } from './backupPicks';

/** What the commands may be given instead of asking (tests, other extensions, keybindings). */
interface CreateArgs {
  readonly includeArchive?: boolean;
}
interface PickArgs {
  /** A backup's id (its file name), instead of the quick pick. */
  readonly id?: string;
  /** Skips the confirmation of a restore or a delete. */
  readonly confirmed?: boolean;
}
interface ExportArgs {
  readonly id?: string;
  readonly target?: vscode.Uri;
}
interface ImportArgs {
  readonly source?: vscode.Uri;
}

/** Told once, in one short message (also returned, for callers); the details go to the log. */
function failed(logger: Logger, what: string, error: unknown): { readonly error: string } {
  const message = error instanceof Error ? error.message : String(error);
  logger.warn(`[backups] ${what} failed: ${message}`);
  void vscode.window.showErrorMessage(`Lifeline: ${what} failed. ${message}`);
  return { error: message };
}

/**
 * The five backup commands (docs/backups.md): Create, Restore…, Delete…, Export…, Import…. They
 * work in every window: the writes (create, restore, delete, import) run in the window that holds
 * the queue, asked over its socket from another. Each returns what it did (an id, a result) for
 * tests and callers.
 */
export function registerBackupCommands(
  runtime: () => WorkspaceRuntime | undefined,
  unavailableReason: () => string | undefined,
  logger: Logger,
): vscode.Disposable[] {
  const open = (): WorkspaceRuntime | undefined => {
    const current = runtime();
    if (!current) void vscode.window.showWarningMessage(`Lifeline: ${unavailableReason() ?? 'the queue is not open yet.'}`);
    return current;
  };
  // Any window: the writes go to the window that holds the queue (WorkspaceRuntime.backups).
  const backupsOf = (current: WorkspaceRuntime): RuntimeBackups | undefined => current.services.backups;

  return [
    vscode.commands.registerCommand(CommandIds.createBackup, async (args?: CreateArgs) => {
      const current = open();
      const backups = current && backupsOf(current);
      if (!current || !backups) return undefined;
      let includeArchive = args?.includeArchive;
      if (includeArchive === undefined) {
        const archive = await archiveBytes(current.storageDirectory);
        if (archive.files > 1) {
          const choice = await vscode.window.showQuickPick(
            [
              { label: 'Queue and recent history', description: 'the live stores', include: false },
              {
                label: 'Also the history archive',
                description: `${archive.files - 1} sealed shard(s), ${formatBytes(archive.bytes)} more`,
                include: true,
              },
            ],
            { title: 'Lifeline: Create Backup', placeHolder: 'What should the backup hold?' },
          );
          if (!choice) return undefined;
          includeArchive = choice.include;
        }
      }
      try {
        const info = await vscode.window.withProgress(
          { location: vscode.ProgressLocation.Notification, title: 'Lifeline: creating a backup', cancellable: true },
          async (_progress, token) => {
            // Nothing is written before this point; once the file is being written it finishes.
            if (token.isCancellationRequested) return undefined;
            const { id } = await current.backups({ op: 'create', includeArchive: includeArchive ?? false });
            return (await backups.manager.list()).find((candidate) => candidate.id === id);
          },
        );
        if (!info) return undefined;
        void vscode.window.showInformationMessage(`Lifeline: backup created (${formatBytes(info.fileSize)}: ${describeParts(info)}).`);
        return info.id;
      } catch (error) {
        return failed(logger, 'creating the backup', error);
      }
    }),

    vscode.commands.registerCommand(CommandIds.restoreBackup, async (args?: PickArgs) => {
      const current = open();
      const backups = current && backupsOf(current);
      if (!current || !backups) return undefined;
      const info = await chosen(backups, args?.id, {
        title: 'Lifeline: Restore Backup',
        placeHolder: 'The backup to restore',
        usable: true,
      });
      if (!info) return undefined;
      if (!args?.confirmed) {
        const answer = await vscode.window.showWarningMessage(
          `Restore the backup of ${info.createdAt.toLocaleString()}?`,
          {
            modal: true,
            detail: `The queue and the history become the backup's (${describeParts(info)}). Running jobs keep running. The state as it is now is backed up first, so this can be undone by restoring that backup.`,
          },
          'Restore',
        );
        if (answer !== 'Restore') return undefined;
      }
      try {
        return await vscode.window.withProgress(
          { location: vscode.ProgressLocation.Notification, title: 'Lifeline: restoring a backup', cancellable: true },
          async (progress, token) => {
            progress.report({ message: 'verifying' });
            await backups.manager.read(info.id);
            // Cancellable until here: from now on the safety backup and the stores are written.
            if (token.isCancellationRequested) return undefined;
            progress.report({ message: 'restoring' });
            const result = await current.backups({ op: 'restore', id: info.id });
            const kept = result.keptRunning.length > 0 ? ` ${result.keptRunning.length} running job(s) go on.` : '';
            void vscode.window.showInformationMessage(
              `Lifeline: restored the backup of ${info.createdAt.toLocaleString()}.${kept} The state before it is in an automatic backup.`,
            );
            return result;
          },
        );
      } catch (error) {
        return failed(logger, 'restoring the backup', error);
      }
    }),

    vscode.commands.registerCommand(CommandIds.deleteBackup, async (args?: PickArgs) => {
      const current = open();
      const backups = current && backupsOf(current);
      if (!current || !backups) return undefined;
      const info = await chosen(backups, args?.id, { title: 'Lifeline: Delete Backup', placeHolder: 'The backup to delete' });
      if (!info) return undefined;
      if (!args?.confirmed) {
        const answer = await vscode.window.showWarningMessage(
          `Delete the backup of ${info.createdAt.toLocaleString()}?`,
          { modal: true, detail: `${formatBytes(info.fileSize)}: ${describeParts(info)}. This cannot be undone.` },
          'Delete',
        );
        if (answer !== 'Delete') return undefined;
      }
      try {
        await current.backups({ op: 'delete', id: info.id });
        void vscode.window.showInformationMessage('Lifeline: backup deleted.');
        return info.id;
      } catch (error) {
        return failed(logger, 'deleting the backup', error);
      }
    }),

    vscode.commands.registerCommand(CommandIds.exportBackup, async (args?: ExportArgs) => {
      const current = open();
      const backups = current && backupsOf(current);
      if (!current || !backups) return undefined;
      const info = await chosen(backups, args?.id, { title: 'Lifeline: Export Backup', placeHolder: 'The backup to export', usable: true });
      if (!info) return undefined;
      const target =
        args?.target ??
        (await vscode.window.showSaveDialog({
          title: 'Lifeline: Export Backup',
          saveLabel: 'Export',
          defaultUri: vscode.Uri.joinPath(vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(process.cwd()), info.id),
          filters: { 'Lifeline backup': ['llbackup'] },
        }));
      if (!target) return undefined;
      if (target.scheme !== 'file') {
        void vscode.window.showErrorMessage('Lifeline: a backup can be exported only to a file on this machine.');
        return undefined;
      }
      try {
        await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Lifeline: exporting a backup' }, () =>
          backups.manager.exportTo(info.id, target.fsPath),
        );
        void vscode.window.showInformationMessage(`Lifeline: exported the backup to ${target.fsPath}.`);
        return target.fsPath;
      } catch (error) {
        return failed(logger, 'exporting the backup', error);
      }
    }),

    vscode.commands.registerCommand(CommandIds.importBackup, async (args?: ImportArgs) => {
      const current = open();
      const backups = current && backupsOf(current);
      if (!current || !backups) return undefined;
      const source =
        args?.source ??
        (
          await vscode.window.showOpenDialog({
            title: 'Lifeline: Import Backup',
            openLabel: 'Import',
            canSelectMany: false,
            filters: { 'Lifeline backup': ['llbackup'], 'All files': ['*'] },
          })
        )?.[0];
      if (!source) return undefined;
      if (source.scheme !== 'file') {
        void vscode.window.showErrorMessage('Lifeline: a backup can be imported only from a file on this machine.');
        return undefined;
      }
      try {
        const info = await vscode.window.withProgress(
          { location: vscode.ProgressLocation.Notification, title: 'Lifeline: importing a backup', cancellable: true },
          async (progress, token) => {
            progress.report({ message: 'verifying' });
            await readBackupFile(source.fsPath);
            if (token.isCancellationRequested) return undefined; // nothing written yet
            const { id } = await current.backups({ op: 'import', path: source.fsPath });
            return (await backups.manager.list()).find((candidate) => candidate.id === id);
          },
        );
        if (!info) return undefined;
        void vscode.window.showInformationMessage(
          `Lifeline: imported the backup of ${info.createdAt.toLocaleString()} (${describeParts(info)}). Restore it with “Lifeline: Restore Backup…”.`,
        );
        return info.id;
      } catch (error) {
        return failed(logger, 'importing the backup', error);
      }
    }),
  ];
}

/** The backup named by `id`, or the one the user picks. */
async function chosen(
  backups: RuntimeBackups,
  id: string | undefined,
  pick: { title: string; placeHolder: string; usable?: boolean },
): Promise<BackupInfo | undefined> {
  const all = await backups.manager.list();
  if (id === undefined) return pickBackup(all, pick);
  const found = all.find((info) => info.id === id);
  if (!found) void vscode.window.showErrorMessage(`Lifeline: there is no backup ${id}.`);
  return found;
}
