import { promises as fs } from 'node:fs';
import { delimiter, join } from 'node:path';
import * as vscode from 'vscode';
import { TERMINAL_ENV } from '../cli/cliTarget';
import { writeSharedOptions } from '../core/control/sharedOptions';
import { writeTrustRecord } from '../core/control/workspaceTrust';
import type { Logger } from '../core/logger';
import type { RuntimeOptions } from '../core/runtime/runtimeOptions';
import { writeFileAtomic } from '../core/storage/atomicFile';

/** Single-quoted for sh: the paths come from the machine, and may hold spaces or quotes. */
function shQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * The launchers of `lifeline` (sh and cmd), in the extension's global storage: they run
 * dist/lifeline.js with the extension host's own runtime (ELECTRON_RUN_AS_NODE makes an Electron
 * binary act as Node; code-server's runtime is Node itself), so no separate Node is needed.
 * Rewritten on every activation, atomically, so an update of the extension or the editor moves them along.
 */
export async function writeLaunchers(binDirectory: string, extensionPath: string, version: string): Promise<void> {
  const script = join(extensionPath, 'dist', 'lifeline.js');
  await fs.mkdir(binDirectory, { recursive: true, mode: 0o700 });
  const sh = [
    '#!/bin/sh',
    `# Written by the Lifeline extension ${version}: \`lifeline\` with the editor's own runtime (docs/cli.md).`,
    `ELECTRON_RUN_AS_NODE=1 exec ${shQuote(process.execPath)} ${shQuote(script)} "$@"`,
    '',
  ].join('\n');
  await writeFileAtomic(join(binDirectory, 'lifeline'), sh);
  await fs.chmod(join(binDirectory, 'lifeline'), 0o700);
  const cmd = ['@echo off', `set ELECTRON_RUN_AS_NODE=1`, `"${process.execPath}" "${script}" %*`, ''].join('\r\n');
  await writeFileAtomic(join(binDirectory, 'lifeline.cmd'), cmd);
}

export interface TerminalAccessOptions {
  readonly context: vscode.ExtensionContext;
  readonly storageDirectory: string;
  readonly workspaceKey: string;
  readonly folder: vscode.WorkspaceFolder;
  readonly version: string;
  readonly logger: Logger;
}

/**
 * What processes outside VS Code need to work on this workspace as this window does: the trust
 * VS Code gave it and the settings it runs with (files in the storage folder that `lifeline` and
 * `lifeline mcp` read), and, in a trusted workspace, `lifeline` on PATH in every integrated
 * terminal with the workspace named in its environment (docs/cli.md).
 */
export class TerminalAccess implements vscode.Disposable {
  private readonly binDirectory: string;

  constructor(private readonly options: TerminalAccessOptions) {
    this.binDirectory = join(options.context.globalStorageUri.fsPath, 'bin');
  }

  /** Records trust as VS Code says it now, and offers the command only where the workspace is trusted. */
  async update(): Promise<void> {
    const { context, storageDirectory, logger } = this.options;
    const trusted = vscode.workspace.isTrusted;
    try {
      await writeTrustRecord(storageDirectory, trusted);
    } catch (error) {
      logger.warn(`[terminal] could not record the workspace's trust for lifeline and agents: ${String(error)}`);
    }
    const collection = context.environmentVariableCollection;
    if (!trusted) {
      collection.clear();
      return;
    }
    try {
      await writeLaunchers(this.binDirectory, context.extensionUri.fsPath, this.options.version);
    } catch (error) {
      logger.warn(`[terminal] could not write the lifeline command to ${this.binDirectory}: ${String(error)}`);
      collection.clear();
      return;
    }
    collection.description = "Puts the `lifeline` command on PATH for this workspace's job queue.";
    collection.prepend('PATH', `${this.binDirectory}${delimiter}`);
    collection.replace(TERMINAL_ENV.storage, storageDirectory);
    collection.replace(TERMINAL_ENV.folder, this.options.folder.uri.fsPath);
    collection.replace(TERMINAL_ENV.key, this.options.workspaceKey);
    collection.replace(TERMINAL_ENV.globalStorage, context.globalStorageUri.fsPath);
    logger.info(`[terminal] lifeline is on PATH in this workspace's terminals (${this.binDirectory})`);
  }

  /** The settings the window runs the workspace with, for a command or agent that holds the queue while no window does. */
  shareOptions(options: RuntimeOptions): void {
    void writeSharedOptions(this.options.storageDirectory, options).catch((error: unknown) =>
      this.options.logger.warn(`[terminal] could not record the settings for lifeline and agents: ${String(error)}`),
    );
  }

  dispose(): void {
    // The collection persists with the workspace on purpose: terminals restored after a reload keep `lifeline`.
  }
}
