import * as vscode from 'vscode';
import { CommandIds } from '../shared/commandIds';
import type { QueueHost } from './queueHost';
import type { StatusBarModel } from './statusBarModel';
import { statusBarModel } from './statusBarModel';

/** A save still in flight after this long is shown as "saving"; quicker ones never flash. */
const SLOW_SAVE_MS = 1000;

/** What the status bar item shows now; the integration tests read it through the test-only API. */
export interface StatusBarState {
  readonly visible: boolean;
  readonly text: string;
  readonly tooltip: string;
  readonly accessibleLabel: string;
  readonly backgroundColor: string | undefined;
  readonly command: string | undefined;
}

/**
 * Lifeline's status bar item: running and queued counts, paused, and whether the queue is saving
 * (statusBarModel.ts). It redraws on a change of the queue or of saving; its one timer, for
 * "saved N s ago", runs only while the item is shown and fires when the text would change.
 */
export class LifelineStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('lifeline.status', vscode.StatusBarAlignment.Left, 50);
  private queue: QueueHost | undefined;
  private subscriptions: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;
  private slowSaveTimer: NodeJS.Timeout | undefined;
  private slowSave = false;
  private current: StatusBarModel | undefined;

  constructor() {
    this.item.name = 'Lifeline Jobs';
  }

  /** Follows `queue` (undefined: nothing to show) until the next call. */
  attach(queue: QueueHost | undefined): void {
    while (this.subscriptions.length) this.subscriptions.pop()?.dispose();
    this.queue = queue;
    if (queue) {
      this.subscriptions.push(
        queue.onDidChange(() => this.render()),
        queue.onDidChangeSaving(() => this.onSavingChanged()),
      );
    }
    this.render();
  }

  get state(): StatusBarState {
    const background = this.item.backgroundColor;
    return {
      visible: this.current?.visible ?? false,
      text: this.item.text,
      tooltip: typeof this.item.tooltip === 'string' ? this.item.tooltip : (this.item.tooltip?.value ?? ''),
      accessibleLabel: this.item.accessibilityInformation?.label ?? '',
      backgroundColor: background instanceof vscode.ThemeColor ? (background as unknown as { id: string }).id : undefined,
      command: typeof this.item.command === 'string' ? this.item.command : this.item.command?.command,
    };
  }

  private onSavingChanged(): void {
    const saving = this.queue?.storageHealth.state === 'saving';
    clearTimeout(this.slowSaveTimer);
    this.slowSave = false;
    if (saving) {
      this.slowSaveTimer = setTimeout(() => {
        this.slowSave = this.queue?.storageHealth.state === 'saving';
        this.render();
      }, SLOW_SAVE_MS);
    }
    this.render();
  }

  private render(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const queue = this.queue;
    if (!queue) {
      this.current = undefined;
      this.item.hide();
      return;
    }
    let running = 0;
    let queued = 0;
    for (const job of queue.jobs) {
      if (job.state === 'running') running++;
      else if (job.state === 'queued') queued++;
    }
    const now = Date.now();
    const model = statusBarModel({
      running,
      queued,
      paused: queue.flags?.paused ?? false,
      health: queue.storageHealth,
      slowSave: this.slowSave,
      lastSavedAt: queue.lastSavedAt,
      now,
    });
    const previous = this.current;
    this.current = model;
    if (!model.visible) {
      this.item.hide();
      return;
    }
    // Each property set is a message to the window: a commit (saving, then saved) that changes
    // nothing shown sends none.
    if (!previous?.visible || !sameLook(previous, model)) {
      this.item.text = model.text;
      this.item.tooltip = new vscode.MarkdownString(model.tooltip, true);
      this.item.accessibilityInformation = { label: model.accessibleLabel, role: 'button' };
      this.item.backgroundColor = model.background === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
      this.item.command = model.click === 'saving' ? CommandIds.showSavingStatus : CommandIds.openQueuePanel;
      this.item.show();
    }
    if (model.refreshAt !== undefined) {
      this.timer = setTimeout(() => this.render(), Math.max(0, model.refreshAt - now));
      this.timer.unref?.();
    }
  }

  dispose(): void {
    clearTimeout(this.timer);
    clearTimeout(this.slowSaveTimer);
    while (this.subscriptions.length) this.subscriptions.pop()?.dispose();
    this.item.dispose();
  }
}

function sameLook(a: StatusBarModel, b: StatusBarModel): boolean {
  return a.text === b.text && a.tooltip === b.tooltip && a.background === b.background && a.click === b.click;
}

/**
 * The status bar's click while the queue is not saving: what went wrong, with Retry and the
 * Storage Health report. While saving works it opens the queue.
 */
export async function showSavingStatus(queue: QueueHost | undefined): Promise<void> {
  const health = queue?.storageHealth;
  if (health?.state !== 'notSaving') {
    await vscode.commands.executeCommand(CommandIds.openQueuePanel);
    return;
  }
  const picked = await vscode.window.showErrorMessage(
    `Lifeline: the queue is not saving: ${health.reason} (since ${new Date(health.since).toLocaleTimeString()}). Changes to it are refused until a save succeeds; running jobs go on.`,
    'Retry',
    'Show Details',
  );
  if (picked === 'Retry') await vscode.commands.executeCommand(CommandIds.retrySaving);
  if (picked === 'Show Details') await vscode.commands.executeCommand(CommandIds.showStorageHealth);
}
