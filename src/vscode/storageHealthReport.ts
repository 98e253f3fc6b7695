import * as vscode from 'vscode';
import type { Logger } from '../core/logger';
import { analyseSurvival } from '../core/runtime/jobSurvival';
import type { SurvivalReport } from '../core/runtime/jobSurvival';
import { readSurvivalFacts } from '../core/runtime/jobSurvivalProbe';
import type { RuntimeOptions } from '../core/runtime/runtimeOptions';
import { auditReader, collectStorageReport } from '../core/runtime/storageReport';
import type { StorageReport } from '../core/runtime/storageReport';
import type { SavingLine } from '../core/runtime/storageReportText';
import { storageReportMarkdown } from '../core/runtime/storageReportText';
import type { WorkspaceRuntime } from '../core/runtime/workspaceRuntime';
import { separateScopeAvailable } from '../core/supervisors/separateScope';
import { CommandIds } from '../shared/commandIds';
import { readSettings } from './settings';

export const HEALTH_SCHEME = 'lifeline-health';
/** The one report document; showing it again refreshes it in place. */
export const HEALTH_URI = vscode.Uri.from({ scheme: HEALTH_SCHEME, path: '/Lifeline Storage Health.md' });

export interface StorageHealthDeps {
  /** The open runtime, when the queue is open in this window. */
  readonly runtime: () => WorkspaceRuntime | undefined;
  /** The workspace's storage folder, also when the queue could not open (the report then reads the files alone). */
  readonly storageDirectory: () => string | undefined;
  readonly sqlWasmPath: string;
  readonly logger: Logger;
}

/**
 * `Lifeline: Show Storage Health` and `Lifeline: Verify Storage`: a read-only Markdown report
 * (a virtual document of the `lifeline-health:` scheme, shown in the Markdown preview) built from
 * the core's collectStorageReport. Each command collects it again, so running it refreshes it.
 */
export function registerStorageHealth(deps: StorageHealthDeps): vscode.Disposable[] {
  const changed = new vscode.EventEmitter<vscode.Uri>();
  let content = '# Lifeline Storage Health\n\nRun **Lifeline: Show Storage Health** to collect the report.\n';
  let offered = false;
  const provider: vscode.TextDocumentContentProvider = { onDidChange: changed.event, provideTextDocumentContent: () => content };

  const show = async (deep: boolean): Promise<vscode.Uri | undefined> => {
    const directory = deps.runtime()?.storageDirectory ?? deps.storageDirectory();
    if (!directory) {
      void vscode.window.showInformationMessage('Lifeline: open a folder to see its storage health.');
      return undefined;
    }
    try {
      const report = await vscode.window.withProgress(
        {
          location: deep ? vscode.ProgressLocation.Notification : vscode.ProgressLocation.Window,
          title: deep ? 'Lifeline: verifying storage…' : 'Lifeline: storage health',
        },
        () => collect(deps, directory, deep),
      );
      content = storageReportMarkdown(report, savingLine(deps.runtime()));
      changed.fire(HEALTH_URI);
      await open();
      if (deep) {
        const damaged =
          report.stores.filter((store) => store.check.status === 'damaged').length + (report.archive?.status === 'damaged' ? 1 : 0);
        const message =
          damaged > 0 ? `Lifeline: ${damaged} store(s) failed verification; see the report.` : 'Lifeline: every store verified.';
        void (damaged > 0 ? vscode.window.showWarningMessage(message) : vscode.window.showInformationMessage(message));
      }
      if (report.survival?.suggestSeparateScope && !offered) {
        offered = true;
        void offerSeparateScope(report.survival);
      }
      return HEALTH_URI;
    } catch (error) {
      deps.logger.error(`[health] the report could not be collected: ${String(error)}`);
      void vscode.window.showErrorMessage(`Lifeline: the storage health report failed: ${(error as Error).message}`);
      return undefined;
    }
  };

  return [
    changed,
    vscode.workspace.registerTextDocumentContentProvider(HEALTH_SCHEME, provider),
    vscode.commands.registerCommand(CommandIds.showStorageHealth, () => show(false)),
    vscode.commands.registerCommand(CommandIds.verifyStorage, () => show(true)),
  ];
}

async function collect(deps: StorageHealthDeps, directory: string, deep: boolean): Promise<StorageReport> {
  const runtime = deps.runtime();
  const options: RuntimeOptions = runtime?.options ?? readSettings();
  const facts = await readSurvivalFacts({
    jobPids: (runtime?.queue.jobs ?? []).flatMap((job) => (job.state === 'running' && job.pid !== undefined ? [job.pid] : [])),
    whenVSCodeCloses: options.stopWithoutHostAfterMs === undefined ? 'finish' : 'stopAfterGrace',
    stopGraceSeconds: Math.round((options.stopWithoutHostAfterMs ?? 0) / 1000),
    separateScopeEnabled: options.supervisorScope === 'separate',
    separateScopeAvailable: await separateScopeAvailable(),
  });
  const backups = runtime?.services.backups?.manager;
  return collectStorageReport({
    storageDirectory: directory,
    liveStores: runtime?.openStores(),
    listBackups: backups && ((verify) => backups.list(verify)),
    events: runtime?.storageEvents.events,
    audit: auditReader((runtime?.services as Record<string, unknown> | undefined)?.audit),
    survival: analyseSurvival(facts),
    deep,
    sqlWasmPath: deps.sqlWasmPath,
  });
}

function savingLine(runtime: WorkspaceRuntime | undefined): SavingLine | undefined {
  if (!runtime) return undefined;
  const health = runtime.storageHealth;
  if (health.state === 'notSaving') {
    return {
      state: 'notSaving',
      detail: `**not saving** since ${new Date(health.since).toISOString()}: ${health.reason}. Run **Lifeline: Retry Saving the Queue** once the disk is fixed.`,
    };
  }
  if (runtime.queue.role !== 'holder') return { state: 'saved', detail: 'another window holds the queue and saves it.' };
  const at = runtime.lastSavedAt;
  return {
    state: health.state,
    detail:
      health.state === 'saving'
        ? 'saving…'
        : at === undefined
          ? 'nothing written yet in this window.'
          : `saved, last at ${new Date(at).toISOString()}.`,
  };
}

async function open(): Promise<void> {
  const document = await vscode.workspace.openTextDocument(HEALTH_URI);
  try {
    // Rendered, beside nothing: the preview follows the document as it changes.
    await vscode.commands.executeCommand('markdown.showPreview', document.uri);
  } catch {
    await vscode.window.showTextDocument(document, { preview: true });
  }
}

async function offerSeparateScope(survival: SurvivalReport): Promise<void> {
  const stops = survival.answers
    .filter((answer) => answer.event === 'serviceRestart' || answer.event === 'logout')
    .filter((answer) => answer.outcome !== 'keeps');
  const picked = await vscode.window.showWarningMessage(
    `Lifeline: running jobs here stop on ${stops.map((answer) => answer.label.toLowerCase()).join(' and ')}, with VS Code’s server. Start job supervisors in their own systemd scope instead?`,
    'Use a Separate Scope',
  );
  if (picked) {
    await vscode.workspace.getConfiguration('lifeline').update('supervisors.scope', 'separate', vscode.ConfigurationTarget.Global);
  }
}
