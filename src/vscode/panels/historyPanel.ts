import * as vscode from 'vscode';
import type { ArchivedEntry } from '../../core/history/archive';
import type { HistoryEntry } from '../../core/history/historyEntry';
import { commandText } from '../../core/history/historyEntry';
import type { HistoryFilter } from '../../core/history/historyQuery';
import type {
  HistoryPanelCommand,
  HistoryPanelHostMessage,
  HistoryPanelState,
  HistoryRow,
  HistorySummary,
  QueryReply,
  QueryRequest,
} from '../../shared/historyPanelProtocol';
import { defaultHistoryPanelState, historyPanelViewType } from '../../shared/historyPanelProtocol';
import { historyPanelCommandSchema, historyPanelStateSchema } from '../../shared/historyPanelSchemas';
import { CommandIds } from '../../shared/commandIds';
import type { HistoryHost } from '../historyHost';
import type { OwnCommand, PanelDefinition, PanelServices, RegisteredPanel } from './webviewPanelBase';
import { WebviewPanelBase, registerPanel } from './webviewPanelBase';

/** Where the panel finds the history: it may open after the panel, or be in another window. */
export interface HistorySource {
  readonly host: HistoryHost | undefined;
  readonly unavailableReason: string | undefined;
  /** Fires when the workspace session (and with it the history host) opens. */
  readonly onDidChangeHost: vscode.Event<void>;
}

const definition: PanelDefinition<HistoryPanelState, HistoryPanelCommand> = {
  viewType: historyPanelViewType,
  title: 'Lifeline History',
  description: 'the History panel',
  page: 'historyPanel',
  stateSchema: historyPanelStateSchema,
  defaultState: defaultHistoryPanelState,
  commandSchema: historyPanelCommandSchema,
};

const PAGE_SIZE = 50;
const SUMMARY_DAYS = 30;
const SUMMARY_REFRESH_MS = 1_000;

/** Registers the History panel: restored after a reload with the search, filters, loaded pages, scroll and selection it had. */
export function registerHistoryPanel(services: PanelServices, source: HistorySource): RegisteredPanel<HistoryPanel> {
  return registerPanel(definition, services, (panel, state) => new HistoryPanel(panel, services, source, state));
}

/**
 * The History panel: finished jobs, searchable and filtered by state, newest first, from the
 * active history or the archive, paged by keyset cursors.
 */
export class HistoryPanel extends WebviewPanelBase<HistoryPanelState, HistoryPanelCommand, HistoryPanelHostMessage> {
  private hostSubscription: vscode.Disposable | undefined;

  constructor(
    panel: vscode.WebviewPanel,
    services: PanelServices,
    private readonly source: HistorySource,
    initialState: HistoryPanelState | undefined,
  ) {
    super(panel, definition, services, initialState);
    this.register(source.onDidChangeHost(() => this.followHost()));
    this.register({
      dispose: () => {
        this.hostSubscription?.dispose();
        clearTimeout(this.summaryTimer);
      },
    });
    this.followHost();
  }

  private followHost(): void {
    this.hostSubscription?.dispose();
    const host = this.source.host;
    let wasOpen = host?.history !== undefined;
    this.hostSubscription = host?.onDidChange(() => {
      const open = host.history !== undefined;
      // Opening or closing changes what can be shown; a recorded job only adds a row.
      if (open !== wasOpen) void this.postStatus();
      else {
        void this.post({ type: 'changed' });
        this.refreshSummarySoon();
      }
      wasOpen = open;
    });
    void this.postStatus();
  }

  private summaryTimer: NodeJS.Timeout | undefined;

  /**
   * The summary line counts the runs too: recompute it after recorded jobs, at most once a second
   * (a burst of small jobs records many in a row, and each count runs over 30 days of the history).
   */
  private refreshSummarySoon(): void {
    if (this.summaryTimer) return;
    this.summaryTimer = setTimeout(() => {
      this.summaryTimer = undefined;
      void this.postStatus();
    }, SUMMARY_REFRESH_MS);
  }

  protected async onReady(): Promise<void> {
    await this.post({ type: 'init', state: this.viewState, workspaceName: vscode.workspace.name ?? 'no folder open' });
    await this.postStatus();
  }

  protected async onCommand(command: OwnCommand<HistoryPanelCommand>): Promise<void> {
    switch (command.type) {
      case 'query': {
        const reply = await this.answerQuery(command);
        if (reply) await this.post(reply);
        return;
      }
      case 'restore':
        return this.restore(command.shard, command.jobId);
      case 'export':
        void vscode.commands.executeCommand(CommandIds.exportHistory);
        return;
      case 'archiveNow':
        void vscode.commands.executeCommand(CommandIds.archiveHistoryNow);
        return;
    }
  }

  private async postStatus(): Promise<void> {
    const host = this.source.host;
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
    await this.post({
      type: 'status',
      unavailable: history ? undefined : (host?.unavailableReason ?? this.source.unavailableReason ?? 'The history is not open.'),
      summary,
    });
  }

  /** A page of entries, or undefined when the history is not open (the panel is told so instead). */
  private async answerQuery({ requestId, query, cursor }: QueryRequest): Promise<QueryReply | undefined> {
    const history = this.source.host?.history;
    if (!history) return void (await this.postStatus());
    const filter: HistoryFilter = {
      ...(query.search.trim() ? { search: query.search } : {}),
      ...(query.states.length > 0 ? { states: query.states } : {}),
    };
    try {
      if (query.source === 'archive') {
        const page = await history.archivePage({ filter, direction: 'desc', limit: PAGE_SIZE, cursor });
        return {
          type: 'page',
          requestId,
          rows: page.entries.map((archived: ArchivedEntry) => toRow(archived.entry, archived.shard)),
          nextCursor: page.nextCursor,
          lost: page.lost.length,
        };
      }
      const page = history.page({ filter, sort: 'finishedAt', direction: 'desc', limit: PAGE_SIZE, cursor });
      return { type: 'page', requestId, rows: page.entries.map((entry) => toRow(entry, undefined)), nextCursor: page.nextCursor, lost: 0 };
    } catch (error) {
      // A cursor from before a reload can be stale, a search can be malformed: say so, keep the panel.
      return { type: 'error', requestId, message: error instanceof Error ? error.message : String(error) };
    }
  }

  private async restore(shard: string, jobId: string): Promise<void> {
    const history = this.source.host?.history;
    if (!history) return;
    try {
      const entry = await history.restore(shard, jobId);
      void vscode.window.showInformationMessage(`Lifeline: "${entry.name}" was copied into the active history.`);
      await this.post({ type: 'changed' });
    } catch (error) {
      void vscode.window.showErrorMessage(
        `Lifeline: could not restore the entry: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
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
