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
    for (const view of this.views) view.message = status === 'waiting' ? WAITING_FOR_HOLDER : undefined;
  }

  /** Follows the open queue's role until the next call. */
  follow(queue: { readonly role: SessionRole; readonly onDidChangeRole: vscode.Event<SessionRole> } | undefined): void {
    this.roleSubscription?.dispose();
    this.roleSubscription = queue?.onDidChangeRole((role) => this.set(statusOfRole(role)));
    if (queue) this.set(statusOfRole(queue.role));
  }

  dispose(): void {
    this.roleSubscription?.dispose();
  }
}
