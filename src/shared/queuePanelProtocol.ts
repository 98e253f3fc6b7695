/**
 * Messages between the Queue dashboard webview and the extension host.
 * The webview's tsconfig sees only src/shared, and this file carries no run-time dependency, so
 * the browser bundle stays small; the host validates inbound messages with the zod schemas in
 * queuePanelSchemas.ts before acting on them.
 */

export const queuePanelViewType = 'lifeline.queuePanel';

/** What the panel restores after a reload: ids and view state only, never data. */
export interface QueuePanelState {
  readonly version: 1;
  readonly filter: string;
  readonly scrollTop: number;
  readonly selectedJobId?: string | undefined;
}

export const defaultQueuePanelState: QueuePanelState = { version: 1, filter: '', scrollTop: 0 };

// webview -> host
export interface ReadyCommand {
  readonly type: 'ready';
}
export interface StateChangedCommand {
  readonly type: 'stateChanged';
  readonly state: QueuePanelState;
}
export interface ShowLogCommand {
  readonly type: 'showLog';
}
export type QueuePanelCommand = ReadyCommand | StateChangedCommand | ShowLogCommand;

// host -> webview
export interface InitNotification {
  readonly type: 'init';
  readonly state: QueuePanelState;
  readonly workspaceName: string;
  readonly trusted: boolean;
}
export type QueuePanelNotification = InitNotification;

export function isInitNotification(message: unknown): message is InitNotification {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'init';
}
