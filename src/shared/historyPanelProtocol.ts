/**
 * Messages between the History panel webview and the extension host. No run-time dependency
 * (the webview bundle stays small); the host validates inbound messages with
 * historyPanelSchemas.ts before acting on them.
 */

export const historyPanelViewType = 'lifeline.historyPanel';

export const historyStates = ['succeeded', 'failed', 'cancelled', 'timedOut', 'interrupted'] as const;
export type HistoryState = (typeof historyStates)[number];
export type HistorySource = 'active' | 'archive';

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

// webview -> host
export type HistoryPanelCommand =
  | { readonly type: 'ready' }
  | { readonly type: 'stateChanged'; readonly state: HistoryPanelState }
  /** A page of entries: `cursor` from the previous page, absent for the first. */
  | { readonly type: 'query'; readonly requestId: number; readonly query: HistoryQuery; readonly cursor?: string | undefined }
  /** Copies an archived entry into the active history as its newest entry. */
  | { readonly type: 'restore'; readonly shard: string; readonly jobId: string }
  | { readonly type: 'export' }
  | { readonly type: 'archiveNow' };

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

// host -> webview
export type HistoryPanelNotification =
  | { readonly type: 'init'; readonly state: HistoryPanelState; readonly workspaceName: string }
  /** The history opened or closed, or `unavailable` says why there is none in this window. */
  | { readonly type: 'status'; readonly unavailable: string | undefined; readonly summary: HistorySummary | undefined }
  | { readonly type: 'page'; readonly requestId: number; readonly rows: readonly HistoryRow[]; readonly nextCursor: string | undefined; readonly lost: number }
  | { readonly type: 'error'; readonly requestId: number | undefined; readonly message: string }
  /** Something was recorded or restored: the panel reloads what it shows. */
  | { readonly type: 'changed' };

export function isHistoryNotification(message: unknown): message is HistoryPanelNotification {
  return typeof message === 'object' && message !== null && typeof (message as { type?: unknown }).type === 'string';
}
