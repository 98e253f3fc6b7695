/**
 * Messages between the Queue dashboard webview and the extension host, in the style of
 * panelProtocol.ts. The webview's tsconfig sees only src/shared, and this file carries no run-time
 * dependency, so the browser bundle stays small; the host validates inbound messages with the
 * zod schemas in queuePanelSchemas.ts before acting on them.
 */

import type { DisplayState } from './jobDisplay';
import type { MessageKind, ReadyCommand, StateChangedCommand } from './panelProtocol';
import { hostMessage } from './panelProtocol';

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

export const jobActions = ['cancel', 'retry', 'resume', 'discard', 'showOutput'] as const;
export type JobAction = (typeof jobActions)[number];

// webview -> host: commands
export type QueueStateChangedCommand = StateChangedCommand<QueuePanelState>;
export interface ShowLogCommand {
  readonly type: 'showLog';
}
/** A button on a job row: the host checks the job's state again before acting. */
export interface JobActionCommand {
  readonly type: 'jobAction';
  readonly action: JobAction;
  readonly jobId: string;
}
export interface RunJobCommand {
  readonly type: 'runJob';
}
/** The banner's Retry: try to save the queue now. */
export interface RetrySavingCommand {
  readonly type: 'retrySaving';
}
export type QueuePanelCommand =
  ReadyCommand | QueueStateChangedCommand | ShowLogCommand | JobActionCommand | RunJobCommand | RetrySavingCommand;

// host -> webview: notifications
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

/**
 * A problem with the queue's storage, shown above the jobs (the Queue view shows the same rows):
 * `notSaving` while commits fail, `lowDisk` while new jobs wait for free space.
 */
export interface StorageNotice {
  readonly kind: 'notSaving' | 'lowDisk';
  /** One line: "Not saving: the disk is full (ENOSPC)". */
  readonly title: string;
  /** What it means for the jobs, and what to do. */
  readonly detail: string;
  /** Whether a Retry applies (saving can be tried again at once). */
  readonly retry: boolean;
}

/** The queue as it is now; sent on every change, at most a few times a second. */
export interface JobsNotification {
  readonly type: 'jobs';
  readonly jobs: readonly JobRow[];
  readonly paused: boolean;
  /** Why the queue is not shown (Restricted Mode, no folder, still opening), or undefined. */
  readonly unavailable: string | undefined;
  readonly status: QueueStatus;
  /** Storage problems to show as banners; empty when saving works and the disk has room. */
  readonly notices: readonly StorageNotice[];
}
export type QueuePanelNotification = InitNotification | JobsNotification;

export const InitNotification: MessageKind<InitNotification> = hostMessage('init');
export const JobsNotification: MessageKind<JobsNotification> = hostMessage('jobs');
