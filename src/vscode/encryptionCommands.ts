import * as vscode from 'vscode';
import type { Logger } from '../core/logger';
import type { EncryptionKeyStore, RekeyResult } from '../core/runtime/runtimeEncryption';
import type { WorkspaceRuntime } from '../core/runtime/workspaceRuntime';
import { generateKey, keyFingerprint } from '../core/storage/aesGcmCipher';
import { exportRecoveryKey, importRecoveryKey } from '../core/storage/recoveryKey';
import { CommandIds } from '../shared/commandIds';

/** What the commands may be given instead of asking (tests, keybindings). */
interface EncryptionArgs {
  /** Skips the confirmations and the keychain note. */
  readonly confirmed?: boolean;
  /** Saves the recovery key to this file instead of offering Copy / Save. */
  readonly saveRecoveryKeyTo?: vscode.Uri;
}

export interface EncryptionCommandsDeps {
  readonly runtime: () => WorkspaceRuntime | undefined;
  readonly unavailableReason: () => string | undefined;
  /** The key store of this folder (undefined without a folder). */
  readonly keyStore: () => EncryptionKeyStore | undefined;
  /** The fingerprint the locked data needs, while the queue could not open for want of its key. */
  readonly lockedFingerprint: () => string | undefined;
  /** Opens the queue again once the recovery key is in the key store. */
  readonly reopen: () => Promise<boolean>;
  readonly logger: Logger;
}

/**
 * Where SecretStorage keeps the key here, said before encryption is turned on: in a browser
 * (code-server, vscode.dev) VS Code keeps secrets in the browser's storage for the site, and on
 * Linux without a secret service (no D-Bus session) in a weaker local store.
 */
function keychainNote(): string | undefined {
  if (vscode.env.uiKind === vscode.UIKind.Web) {
    return 'This VS Code runs in a browser: it keeps the key in this browser’s storage for this site, not in an OS keychain. Another browser, a private window or clearing site data will not have it: you will need the recovery key there.';
  }
  if (process.platform === 'linux' && !process.env.DBUS_SESSION_BUS_ADDRESS) {
    return 'No secret service (D-Bus session) is reachable here, so VS Code may keep the key in a weaker local store, or lose it when it restarts: you would then need the recovery key.';
  }
  return undefined;
}

function summary(result: RekeyResult): string {
  const left = result.backupsLeft > 0 ? ` ${result.backupsLeft} backup(s) could not be read and were left as they were.` : '';
  return `${result.stores} stores, ${result.archiveShards} archive shard(s), ${result.backups} backup(s) and ${result.jobFiles} job file(s) in ${(result.durationMs / 1000).toFixed(1)} s.${left}`;
}

/**
 * Shows the recovery key once (docs/encryption.md) with a way to keep it: copy it, or save it to
 * a file. Resolves false when the person closed the dialog without keeping it.
 */
async function offerRecoveryKey(key: Uint8Array, args: EncryptionArgs | undefined, purpose: string): Promise<boolean> {
  const text = exportRecoveryKey(key);
  const file = `Lifeline recovery key (key ${keyFingerprint(key)}), ${new Date().toISOString()}\n${text}\n`;
  if (args?.saveRecoveryKeyTo) {
    await vscode.workspace.fs.writeFile(args.saveRecoveryKeyTo, Buffer.from(file, 'utf8'));
    return true;
  }
  for (;;) {
    const choice = await vscode.window.showInformationMessage(
      `Lifeline recovery key: ${text}`,
      {
        modal: true,
        detail: `${purpose} Keep it somewhere safe, outside this machine: without it, Lifeline's data for this workspace cannot be opened if the keychain loses the key. It is shown only now (Export Recovery Key… shows it again while the key is here).`,
      },
      'Copy',
      'Save to File…',
    );
    if (choice === 'Copy') {
      await vscode.env.clipboard.writeText(text);
      return true;
    }
    if (choice !== 'Save to File…') return false;
    const target = await vscode.window.showSaveDialog({
      title: 'Save the Lifeline recovery key',
      defaultUri: vscode.Uri.file(`lifeline-recovery-key-${keyFingerprint(key)}.txt`),
      filters: { Text: ['txt'] },
    });
    if (target) {
      await vscode.workspace.fs.writeFile(target, Buffer.from(file, 'utf8'));
      return true;
    }
  }
}

/** Enable Encryption…, Disable Encryption…, Export Recovery Key… and Enter Recovery Key… (docs/encryption.md). */
export function registerEncryptionCommands(deps: EncryptionCommandsDeps): vscode.Disposable[] {
  const { logger } = deps;
  const holder = (): WorkspaceRuntime | undefined => {
    const current = deps.runtime();
    if (!current) {
      void vscode.window.showWarningMessage(`Lifeline: ${deps.unavailableReason() ?? 'the queue is not open yet.'}`);
      return undefined;
    }
    if (current.queue.role !== 'holder') {
      void vscode.window.showWarningMessage(
        'Lifeline: encryption is turned on or off by the window that holds the queue (the first window opened on this folder). Run this command there.',
      );
      return undefined;
    }
    return current;
  };
  const failed = (what: string, error: unknown): { error: string } => {
    const message = error instanceof Error ? error.message : String(error);
    logger.error(`[encryption] ${what} failed: ${message}`);
    void vscode.window.showErrorMessage(`Lifeline: ${what} failed. ${message}`);
    return { error: message };
  };

  return [
    vscode.commands.registerCommand(CommandIds.enableEncryption, async (args?: EncryptionArgs) => {
      const runtime = holder();
      if (!runtime) return undefined;
      if (runtime.encryption.status.enabled) {
        void vscode.window.showInformationMessage('Lifeline: encryption is already on for this workspace.');
        return undefined;
      }
      if (!args?.confirmed) {
        const note = keychainNote();
        const answer = await vscode.window.showWarningMessage(
          'Encrypt Lifeline’s data for this workspace?',
          {
            modal: true,
            detail:
              'The queue, the history and its archive, the workspace state, the backups and the jobs’ journals and output are sealed with a key kept in VS Code’s secret storage. You will be shown a recovery key next: keep it.' +
              (note ? `\n\n${note}` : ''),
          },
          'Enable Encryption',
        );
        if (answer !== 'Enable Encryption') return undefined;
      }
      const key = generateKey();
      if (!(await offerRecoveryKey(key, args, 'This key opens the data if the keychain loses it.'))) {
        void vscode.window.showInformationMessage('Lifeline: encryption was not turned on (the recovery key was not kept).');
        return undefined;
      }
      try {
        const result = await vscode.window.withProgress(
          { location: vscode.ProgressLocation.Notification, title: 'Lifeline: encrypting this workspace’s data…' },
          () => runtime.encryption.enable(key),
        );
        void vscode.window.showInformationMessage(`Lifeline: encryption is on. Sealed ${summary(result)}`);
        return { keyFingerprint: keyFingerprint(key), ...result };
      } catch (error) {
        return failed('Enable Encryption', error);
      }
    }),
    vscode.commands.registerCommand(CommandIds.disableEncryption, async (args?: EncryptionArgs) => {
      const runtime = holder();
      if (!runtime) return undefined;
      if (!runtime.encryption.status.enabled) {
        void vscode.window.showInformationMessage('Lifeline: encryption is not on for this workspace.');
        return undefined;
      }
      if (!args?.confirmed) {
        const answer = await vscode.window.showWarningMessage(
          'Turn off encryption of Lifeline’s data for this workspace?',
          {
            modal: true,
            detail: 'Every file, backups included, is written plain again and the key is removed from the secret storage.',
          },
          'Disable Encryption',
        );
        if (answer !== 'Disable Encryption') return undefined;
      }
      try {
        const result = await vscode.window.withProgress(
          { location: vscode.ProgressLocation.Notification, title: 'Lifeline: decrypting this workspace’s data…' },
          () => runtime.encryption.disable(),
        );
        void vscode.window.showInformationMessage(`Lifeline: encryption is off. Rewrote ${summary(result)}`);
        return result;
      } catch (error) {
        return failed('Disable Encryption', error);
      }
    }),
    vscode.commands.registerCommand(CommandIds.exportRecoveryKey, async (args?: EncryptionArgs) => {
      const runtime = deps.runtime();
      const key = runtime?.encryption.key;
      if (!runtime || !key) {
        void vscode.window.showInformationMessage(
          runtime
            ? 'Lifeline: encryption is not on for this workspace.'
            : `Lifeline: ${deps.unavailableReason() ?? 'the queue is not open yet.'}`,
        );
        return undefined;
      }
      const kept = await offerRecoveryKey(key, args, 'The recovery key of this workspace’s data.');
      return kept ? { keyFingerprint: keyFingerprint(key) } : undefined;
    }),
    vscode.commands.registerCommand(CommandIds.enterRecoveryKey, async (text?: string) => {
      const keys = deps.keyStore();
      const needed = deps.lockedFingerprint();
      if (!keys) return undefined;
      const read = (value: string): Uint8Array => importRecoveryKey(value, needed);
      const entered =
        text ??
        (await vscode.window.showInputBox({
          title: 'Lifeline: Enter Recovery Key',
          prompt: needed ? `The recovery key of key ${needed}: 8 groups of 8 characters` : 'The recovery key: 8 groups of 8 characters',
          placeHolder: 'XXXXXXXX-XXXXXXXX-XXXXXXXX-XXXXXXXX-XXXXXXXX-XXXXXXXX-XXXXXXXX-XXXXXXXX',
          ignoreFocusOut: true,
          validateInput: (value) => {
            if (value.trim() === '') return undefined;
            try {
              read(value);
              return undefined;
            } catch (error) {
              return (error as Error).message;
            }
          },
        }));
      if (!entered) return undefined;
      let key: Uint8Array;
      try {
        key = read(entered);
      } catch (error) {
        return failed('Enter Recovery Key', error);
      }
      await keys.setKey(key);
      logger.info(`[encryption] the recovery key of key ${keyFingerprint(key)} was entered; opening the queue again`);
      const opened = await deps.reopen();
      if (opened) void vscode.window.showInformationMessage('Lifeline: the recovery key opened this workspace’s data.');
      return { opened };
    }),
  ];
}
