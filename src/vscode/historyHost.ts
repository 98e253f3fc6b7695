import * as vscode from 'vscode';
import type { JobHistory } from '../core/history/jobHistory';
import type { RuntimeHistory } from '../core/runtime/runtimeHistory';
import type { SessionRole } from '../core/session/queueSession';
import type { JobDefinition } from '../shared/workspaceConfig';

/**
 * The workspace runtime's history as the History panel and commands see it, with VS Code events
 * and the panel's words for why it is not open. The history itself (open exactly while this window
 * holds the queue, recording finished jobs) is the runtime's.
 */
export class HistoryHost implements vscode.Disposable {
  private readonly changeEmitter = new vscode.EventEmitter<void>();
  /** Fires when the history opens or closes, and after each recorded job. */
  readonly onDidChange = this.changeEmitter.event;
  private readonly subscription: { dispose(): void };

  constructor(
    private readonly runtimeHistory: RuntimeHistory,
    private readonly queueRole: () => SessionRole,
  ) {
    this.subscription = runtimeHistory.onDidChange(() => this.changeEmitter.fire());
  }

  /** The open history, or undefined (another window holds the queue, or it is still opening). */
  get history(): JobHistory | undefined {
    return this.runtimeHistory.history;
  }

  /** Why there is no history here, for the History panel. */
  get unavailableReason(): string | undefined {
    if (this.runtimeHistory.history) return undefined;
    if (this.queueRole() === 'client') return 'The history is open in the other window that runs this workspace’s queue.';
    if (this.runtimeHistory.openFailed) return 'The history could not be opened; the log says why.';
    return 'The history is opening.';
  }

  /** Resolves with the history once open (undefined when this window does not hold the queue). */
  whenOpen(): Promise<JobHistory | undefined> {
    return this.runtimeHistory.whenOpen();
  }

  /** The likely duration of a job of this definition, from the history (undefined while not open). */
  estimateDuration(definition: JobDefinition): Promise<number | undefined> {
    return this.runtimeHistory.estimateDuration(definition);
  }

  /** Stops forwarding events; the history itself closes with the runtime. */
  dispose(): void {
    this.subscription.dispose();
    this.changeEmitter.dispose();
  }
}
