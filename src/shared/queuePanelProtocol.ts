/**
 * Messages between the Queue dashboard webview and the extension host.
 * The webview's tsconfig sees only src/shared, and this file carries no run-time dependency, so
 * the browser bundle stays small; the host validates inbound messages with the zod schemas in
 * queuePanelSchemas.ts before acting on them.
 */

import type { DisplayState } from './jobDisplay';

export const queuePanelViewType = 'lifeline.queuePanel';

/** What the panel restores after a reload: ids and view state only, never data. */
export interface QueuePanelState {
  readonly version: 1;
  readonly filter: string;
  readonly scrollTop: number;
  readonly selectedJobId?: string | undefined;
  /** The state chips pressed; absent or empty: every state. */
  readonly states?: readonly DisplayState[] | undefined;
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
export type JobAction = 'cancel' | 'retry' | 'resume' | 'discard' | 'showOutput';
export const jobActions: readonly JobAction[] = ['cancel', 'retry', 'resume', 'discard', 'showOutput'];
/** A button on a job row: the host checks the job's state again before acting. */
export interface JobActionCommand {
  readonly type: 'jobAction';
  readonly action: JobAction;
  readonly jobId: string;
}
export interface RunJobCommand {
  readonly type: 'runJob';
}
export type QueuePanelCommand = ReadyCommand | StateChangedCommand | ShowLogCommand | JobActionCommand | RunJobCommand;

// host -> webview
export interface InitNotification {
  readonly type: 'init';
  readonly state: QueuePanelState;
  readonly workspaceName: string;
  readonly trusted: boolean;
}
/** One job as the dashboard shows it: display text made by the host, so the views agree. */
export interface JobRow {
  readonly id: string;
  readonly name: string;
  /** As shown: a job failed by a timeout is `timedOut` (the actions follow the stored state). */
  readonly state: DisplayState;
  readonly description: string;
  /** The command, or the stages' names: what the filter matches besides name and tags. */
  readonly detail: string;
  readonly tags: readonly string[];
  /** 0..1 while running with a known progress. */
  readonly progress: number | undefined;
  readonly actions: readonly JobAction[];
}
/**
 * Whether the queue is shown as it is: `opening` while activation opens it, `waiting` while its
 * holder is gone and the next one is reached (the jobs are as last seen), `unavailable` when it
 * cannot open here (the reason is in `unavailable`).
 */
export type QueueStatus = 'opening' | 'waiting' | 'open' | 'unavailable';

/** The queue as it is now; sent on every change, at most a few times a second. */
export interface JobsNotification {
  readonly type: 'jobs';
  readonly jobs: readonly JobRow[];
  readonly paused: boolean;
  /** Why the queue is not shown (Restricted Mode, no folder, still opening), or undefined. */
  readonly unavailable: string | undefined;
  readonly status: QueueStatus;
}
export type QueuePanelNotification = InitNotification | JobsNotification;

export function isJobsNotification(message: unknown): message is JobsNotification {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'jobs';
}

export function isInitNotification(message: unknown): message is InitNotification {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'init';
}
