import * as vscode from 'vscode';
import type { ArchivedEntry } from '../core/history/archive';
import type { HistoryEntry } from '../core/history/historyEntry';
import { commandText } from '../core/history/historyEntry';
import type { HistoryFilter } from '../core/history/historyQuery';
import type { Logger } from '../core/logger';
import type { HistoryPanelNotification, HistoryPanelState, HistoryQuery, HistoryRow, HistorySummary } from '../shared/historyPanelProtocol';
import { defaultHistoryPanelState, historyPanelViewType } from '../shared/historyPanelProtocol';
import { historyPanelCommandSchema, historyPanelStateSchema } from '../shared/historyPanelSchemas';
import type { HistoryHost } from './historyHost';
import type { ViewStateFiles } from '../core/storage/viewStateFiles';
import { PanelKeeper } from './panelKeeper';
import { webviewHtml } from './webviewHtml';

/** Where the panel finds the history: it may open after the panel, or be in another window. */
export interface HistorySource {
  readonly host: HistoryHost | undefined;
  readonly unavailableReason: string | undefined;
  /** Fires when the workspace session (and with it the history host) opens. */
  readonly onDidChangeHost: vscode.Event<void>;
}

const PAGE_SIZE = 50;
const SUMMARY_DAYS = 30;

/**
 * The History panel: finished jobs, searchable and filtered by state, newest first, from the
 * active history or the archive, paged by keyset cursors. Restored after a reload by its
 * serializer with the search, filters, loaded pages, scroll and selection it had.
 */
export class HistoryPanel implements vscode.Disposable {
  private static keeper: PanelKeeper<HistoryPanelState, HistoryPanel> | undefined;
  static source: HistorySource | undefined;
  /** Lifeline's own copy of the panel's view state (a new browser profile has none of VS Code's). */
  static viewState: ViewStateFiles | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private hostSubscription: vscode.Disposable | undefined;
  private state: HistoryPanelState;
  private ready = false;

  /** Reveals the panel, or opens it (in place of a tab an earlier extension host left). */
  static show(): HistoryPanel | undefined {
    return HistoryPanel.keeper?.show();
  }

  /** Registers the serializer and the keeper that bring the panel back live after a reload or a host crash. */
  static register(extensionUri: vscode.Uri, logger: Logger): vscode.Disposable {
    const keeper = new PanelKeeper<HistoryPanelState, HistoryPanel>({
      viewType: historyPanelViewType,
      title: 'Lifeline History',
      description: 'the History panel',
      schema: historyPanelStateSchema,
      extensionUri,
      logger,
      create: (panel, state) => new HistoryPanel(panel, extensionUri, logger, state),
    });
    HistoryPanel.keeper = keeper;
    return vscode.Disposable.from(keeper.registerSerializer(), keeper, { dispose: () => void (HistoryPanel.keeper === keeper && (HistoryPanel.keeper = undefined)) });
  }

  /** Starts replacing tabs no live panel backs; once Lifeline's saved view state can be read. */
  static recoverTabs(): void {
    HistoryPanel.keeper?.recoverTabs();
  }

  private constructor(
    readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly logger: Logger,
    /** Undefined: the state Lifeline saved last, else the default. */
    initialState: HistoryPanelState | undefined,
  ) {
    this.state = initialState ?? defaultHistoryPanelState;
    this.stateLoaded = initialState ? Promise.resolve() : HistoryPanel.viewState?.load('historyPanel', historyPanelStateSchema).then((saved) => void (saved && (this.state = saved))) ?? Promise.resolve();
    panel.webview.html = webviewHtml(panel.webview, extensionUri, 'historyPanel', 'Lifeline History');
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((message: unknown) => void this.onMessage(message)),
    );
    const source = HistoryPanel.source;
    if (source) this.disposables.push(source.onDidChangeHost(() => this.followHost()));
    this.followHost();
  }

  private readonly stateLoaded: Promise<void>;

  get viewState(): HistoryPanelState {
    return this.state;
  }

  private followHost(): void {
    this.hostSubscription?.dispose();
    const host = HistoryPanel.source?.host;
    let wasOpen = host?.history !== undefined;
    this.hostSubscription = host?.onDidChange(() => {
      const open = host.history !== undefined;
      // Opening or closing changes what can be shown; a recorded job only adds a row.
      if (open !== wasOpen) void this.postStatus();
      else void this.post({ type: 'changed' });
      wasOpen = open;
    });
    void this.postStatus();
  }

  private post(message: HistoryPanelNotification): Thenable<boolean> {
    return this.ready ? this.panel.webview.postMessage(message) : Promise.resolve(false);
  }

  private async postStatus(): Promise<void> {
    const host = HistoryPanel.source?.host;
    const history = host?.history;
    let summary: HistorySummary | undefined;
    if (history) {
      try {
        const stats = await history.statistics({ days: SUMMARY_DAYS, utcOffsetMinutes: -new Date().getTimezoneOffset() });
        summary = {
          days: SUMMARY_DAYS,
          count: stats.count,
          successRate: stats.successRate,
          meanDurationMs: stats.meanDurationMs,
          p95DurationMs: stats.p95DurationMs,
          activeEntries: history.active.count,
          archiveShards: history.archive.shards.length,
        };
      } catch (error) {
        this.logger.warn(`[historyPanel] statistics failed: ${String(error)}`);
      }
    }
    await this.post({ type: 'status', unavailable: history ? undefined : (host?.unavailableReason ?? HistoryPanel.source?.unavailableReason ?? 'The history is not open.'), summary });
  }

  private async onMessage(raw: unknown): Promise<void> {
    const parsed = historyPanelCommandSchema.safeParse(raw);
    if (!parsed.success) {
      this.logger.warn(`[historyPanel] ignored an invalid message from the webview: ${parsed.error.issues[0]?.message ?? 'unknown shape'}`);
      return;
    }
    const message = parsed.data;
    switch (message.type) {
      case 'ready':
        await this.stateLoaded;
        this.ready = true;
        await this.post({ type: 'init', state: this.state, workspaceName: vscode.workspace.name ?? 'no folder open' });
        await this.postStatus();
        return;
      case 'stateChanged':
        this.state = message.state;
        HistoryPanel.viewState?.save('historyPanel', message.state);
        return;
      case 'query':
        return this.answerQuery(message.requestId, message.query, message.cursor);
      case 'restore':
        return this.restore(message.shard, message.jobId);
      case 'export':
        void vscode.commands.executeCommand('lifeline.exportHistory');
        return;
      case 'archiveNow':
        void vscode.commands.executeCommand('lifeline.archiveHistoryNow');
        return;
    }
  }

  private async answerQuery(requestId: number, query: HistoryQuery, cursor: string | undefined): Promise<void> {
    const history = HistoryPanel.source?.host?.history;
    if (!history) return void this.postStatus();
    const filter: HistoryFilter = { ...(query.search.trim() ? { search: query.search } : {}), ...(query.states.length > 0 ? { states: query.states } : {}) };
    try {
      if (query.source === 'archive') {
        const page = await history.archivePage({ filter, direction: 'desc', limit: PAGE_SIZE, cursor });
        await this.post({ type: 'page', requestId, rows: page.entries.map((archived: ArchivedEntry) => toRow(archived.entry, archived.shard)), nextCursor: page.nextCursor, lost: page.lost.length });
      } else {
        const page = history.page({ filter, sort: 'finishedAt', direction: 'desc', limit: PAGE_SIZE, cursor });
        await this.post({ type: 'page', requestId, rows: page.entries.map((entry) => toRow(entry, undefined)), nextCursor: page.nextCursor, lost: 0 });
      }
    } catch (error) {
      // A cursor from before a reload can be stale, a search can be malformed: say so, keep the panel.
      await this.post({ type: 'error', requestId, message: error instanceof Error ? error.message : String(error) });
    }
  }

  private async restore(shard: string, jobId: string): Promise<void> {
    const history = HistoryPanel.source?.host?.history;
    if (!history) return;
    try {
      const entry = await history.restore(shard, jobId);
      void vscode.window.showInformationMessage(`Lifeline: "${entry.name}" was copied into the active history.`);
      await this.post({ type: 'changed' });
    } catch (error) {
      void vscode.window.showErrorMessage(`Lifeline: could not restore the entry: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private disposed = false;

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.hostSubscription?.dispose();
    this.panel.dispose();
    while (this.disposables.length) this.disposables.pop()?.dispose();
  }
}

function toRow(entry: HistoryEntry, shard: string | undefined): HistoryRow {
  return {
    jobId: entry.jobId,
    name: entry.name,
    state: entry.state,
    command: commandText(entry),
    finishedAt: entry.finishedAt,
    durationMs: entry.durationMs,
    exitCode: entry.exitCode,
    error: entry.error,
    attempts: entry.attempts,
    tags: entry.tags,
    outputTail: entry.outputTail,
    shard,
  };
}
