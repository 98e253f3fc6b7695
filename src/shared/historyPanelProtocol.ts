/**
 * Messages between the History panel webview and the extension host, in the style of
 * panelProtocol.ts. No run-time dependency (the webview bundle stays small); the host validates
 * inbound messages with historyPanelSchemas.ts before acting on them.
 */

import type { MessageKind, PanelReply, PanelRequest, ReadyCommand, StateChangedCommand } from './panelProtocol';
import { hostMessage } from './panelProtocol';

export const historyPanelViewType = 'lifeline.historyPanel';

export const historyStates = ['succeeded', 'failed', 'cancelled', 'timedOut', 'interrupted'] as const;
export type HistoryState = (typeof historyStates)[number];
export const historySources = ['active', 'archive'] as const;
export type HistorySource = (typeof historySources)[number];

/** What the panel restores after a reload: the view, never the data. */
export interface HistoryPanelState {
  readonly version: 1;
  readonly search: string;
  /** Empty: every state. */
  readonly states: readonly HistoryState[];
  readonly source: HistorySource;
  readonly scrollTop: number;
  readonly selectedJobId?: string | undefined;
  /** Pages loaded when the panel was left, so a restored scroll position has rows under it. */
  readonly pages: number;
}

export const defaultHistoryPanelState: HistoryPanelState = { version: 1, search: '', states: [], source: 'active', scrollTop: 0, pages: 1 };

export interface HistoryQuery {
  readonly search: string;
  readonly states: readonly HistoryState[];
  readonly source: HistorySource;
}

// webview -> host: commands
export type HistoryStateChangedCommand = StateChangedCommand<HistoryPanelState>;
/** Copies an archived entry into the active history as its newest entry. */
export interface RestoreCommand {
  readonly type: 'restore';
  readonly shard: string;
  readonly jobId: string;
}
export interface ExportCommand {
  readonly type: 'export';
}
export interface ArchiveNowCommand {
  readonly type: 'archiveNow';
}

// webview -> host: requests
/** A page of entries: `cursor` from the previous page, absent for the first. Answered by a `QueryReply`. */
export interface QueryRequest extends PanelRequest<'query'> {
  readonly query: HistoryQuery;
  readonly cursor?: string | undefined;
}

/** Everything the webview sends. */
export type HistoryPanelCommand =
  ReadyCommand | HistoryStateChangedCommand | QueryRequest | RestoreCommand | ExportCommand | ArchiveNowCommand;

/** One entry as the panel shows it. */
export interface HistoryRow {
  readonly jobId: string;
  readonly name: string;
  readonly state: HistoryState;
  readonly command: string;
  readonly finishedAt: number;
  readonly durationMs: number | undefined;
  readonly exitCode: number | undefined;
  readonly error: string | undefined;
  readonly attempts: number;
  readonly tags: readonly string[];
  readonly outputTail: string | undefined;
  /** The shard of an archived entry (restore takes it). */
  readonly shard: string | undefined;
}

export interface HistorySummary {
  readonly days: number;
  readonly count: number;
  readonly successRate: number;
  readonly meanDurationMs: number | undefined;
  readonly p95DurationMs: number | undefined;
  readonly activeEntries: number;
  readonly archiveShards: number;
}

// host -> webview: replies
export interface PageReply extends PanelReply<'page'> {
  readonly rows: readonly HistoryRow[];
  readonly nextCursor: string | undefined;
  /** Archive shards that could not be read for this page. */
  readonly lost: number;
}
/** A query failed (a stale cursor, a malformed search): said in the panel, which stays. */
export interface QueryErrorReply extends PanelReply<'error'> {
  readonly message: string;
}
/** What a `QueryRequest` is answered with. */
export type QueryReply = PageReply | QueryErrorReply;

// host -> webview: notifications
export interface HistoryInitNotification {
  readonly type: 'init';
  readonly state: HistoryPanelState;
  readonly workspaceName: string;
}
/** The history opened or closed, or `unavailable` says why there is none in this window. */
export interface HistoryStatusNotification {
  readonly type: 'status';
  readonly unavailable: string | undefined;
  readonly summary: HistorySummary | undefined;
}
/** Something was recorded or restored: the panel reloads what it shows. */
export interface HistoryChangedNotification {
  readonly type: 'changed';
}
export type HistoryPanelNotification = HistoryInitNotification | HistoryStatusNotification | HistoryChangedNotification;

/** Everything the host posts. */
export type HistoryPanelHostMessage = HistoryPanelNotification | QueryReply;

export const HistoryInitNotification: MessageKind<HistoryInitNotification> = hostMessage('init');
export const HistoryStatusNotification: MessageKind<HistoryStatusNotification> = hostMessage('status');
export const HistoryChangedNotification: MessageKind<HistoryChangedNotification> = hostMessage('changed');
export const PageReply: MessageKind<PageReply> = hostMessage('page');
export const QueryErrorReply: MessageKind<QueryErrorReply> = hostMessage('error');
