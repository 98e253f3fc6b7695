import * as vscode from 'vscode';
import type { SessionRole } from '../core/session/queueSession';
import type { QueueStatus } from '../shared/queuePanelProtocol';

/**
 * Whether this window shows the queue ({@link QueueStatus}), as the views' welcome content
 * (package.json `viewsWelcome`, context key `lifeline.queueStatus`) and the Queue dashboard say it:
 * `opening` while activation takes the lease or reaches its holder, `waiting` when the holder went
 * away and this window reaches the next one or takes over, `open`, or `unavailable` (no folder,
 * Restricted Mode, a storage error).
 *
 * A context key outlives an extension host that dies; what the view shows then is what the key
 * said last, so activation sets `opening` before anything else, and the welcome content for an
 * unset key is the `opening` one.
 */
export const queueStatusContextKey = 'lifeline.queueStatus';

/**
 * Whether the Queue view last listed any job. A view whose extension host died shows no rows but
 * keeps its context keys: `open` with rows listed is then the only way an empty view can come
 * about, and its welcome says that Lifeline is not running in this window rather than that the
 * queue is empty (package.json `viewsWelcome`).
 */
export const queueListedContextKey = 'lifeline.queueListed';

export const WAITING_FOR_HOLDER = 'Waiting for the queue’s holder… The jobs shown are as last seen.';
export const OPENING_QUEUE = 'Opening the queue…';

/** Above the Queue view's rows while the queue starts no job on its own. */
export const PAUSED_MESSAGE = 'Paused: queued jobs wait until you resume the queue.';

/** What {@link QueueStatusIndicator.follow} reads of the open queue (a QueueHost). */
export interface FollowedQueue {
  readonly role: SessionRole;
  readonly onDidChangeRole: vscode.Event<SessionRole>;
  readonly flags: { readonly paused: boolean } | undefined;
  readonly onDidChange: vscode.Event<unknown>;
}

export function statusOfRole(role: SessionRole): QueueStatus {
  switch (role) {
    case 'holder':
    case 'client':
      return 'open';
    case 'connecting':
      return 'waiting';
    case 'disposed':
      return 'opening';
  }
}

/** Keeps the context key and the tree views' message in line with the queue's status. */
export class QueueStatusIndicator implements vscode.Disposable {
  private current: QueueStatus | undefined;
  private roleSubscription: vscode.Disposable | undefined;

  constructor(private readonly views: readonly vscode.TreeView<unknown>[]) {}

  private listed: boolean | undefined;

  /** Called with the number of rows the Queue view was given. */
  setListed(rows: number): void {
    const listed = rows > 0;
    if (this.listed === listed) return;
    this.listed = listed;
    void vscode.commands.executeCommand('setContext', queueListedContextKey, listed);
  }

  get status(): QueueStatus | undefined {
    return this.current;
  }

  set(status: QueueStatus): void {
    if (this.current === status) return;
    this.current = status;
    void vscode.commands.executeCommand('setContext', queueStatusContextKey, status);
    // A message hides the welcome content, so it is set only when rows may be listed under it.
    this.showMessages();
  }

  /**
   * Follows the open queue's role until the next call, and whether it is paused: the first view
   * (the Queue view) says so above its rows, where the title's icons alone did not show it.
   */
  follow(queue: FollowedQueue | undefined): void {
    this.roleSubscription?.dispose();
    this.flagsSubscription?.dispose();
    this.roleSubscription = queue?.onDidChangeRole((role) => this.set(statusOfRole(role)));
    this.flagsSubscription = queue?.onDidChange(() => this.showPaused(queue.flags?.paused === true));
    if (queue) this.set(statusOfRole(queue.role));
    this.showPaused(queue?.flags?.paused === true);
  }

  private flagsSubscription: vscode.Disposable | undefined;

  private paused = false;

  private showPaused(paused: boolean): void {
    if (this.paused === paused) return;
    this.paused = paused;
    this.showMessages();
  }

  /**
   * A message above the rows: waiting for the holder (every view), else paused (the Queue view).
   * Not the view's description or title: while the Queue view is its container's only visible
   * view, VS Code shows no description, and cuts the title short behind the title's icons.
   */
  private showMessages(): void {
    this.views.forEach((view, index) => {
      const message =
        this.current === 'waiting'
          ? WAITING_FOR_HOLDER
          : index === 0 && this.current === 'open' && this.paused
            ? PAUSED_MESSAGE
            : undefined;
      if (view.message !== message) view.message = message;
    });
  }

  dispose(): void {
    this.roleSubscription?.dispose();
    this.flagsSubscription?.dispose();
  }
}
