import * as vscode from 'vscode';
import type { z } from 'zod';
import type { Logger } from '../../core/logger';
import type { PanelTab } from '../../core/panels/panelRecoveryPlan';
import { RecreationBudget, planTabRecovery, readyTimeoutMs } from '../../core/panels/panelRecoveryPlan';
import { webviewOptions } from './webviewHtml';
import { CommandIds } from '../../shared/commandIds';

/** What a panel class builds around a webview panel. */
export interface KeptPanel<S> extends vscode.Disposable {
  readonly panel: vscode.WebviewPanel;
  /** The view state a re-created panel starts from. */
  readonly viewState: S;
}

export interface PanelKeeperOptions<S, P extends KeptPanel<S>> {
  readonly viewType: string;
  readonly title: string;
  /** How the log and the user name the panel ("the Queue dashboard"). */
  readonly description: string;
  readonly schema: z.ZodType<S>;
  readonly extensionUri: vscode.Uri;
  readonly logger: Logger;
  /** Builds the panel around a webview panel; `state` undefined: the view state Lifeline saved last. */
  readonly create: (panel: vscode.WebviewPanel, state: S | undefined) => P;
  /**
   * How long a page gets to say it is ready (doubled on each re-creation in a row).
   * @default 5000
   */
  readonly readyTimeoutMs?: number;
  /**
   * Re-creations in a row, with no ready page between them, before Lifeline gives up and says so.
   * @default 3
   */
  readonly maxRecreations?: number;
  /**
   * How long a tab that no live panel backs waits for VS Code's serializer before it is replaced.
   * @default 2500
   */
  readonly orphanGraceMs?: number;
}

/**
 * Keeps a single-instance webview panel live (docs/panels.md): restores it through its serializer,
 * re-creates it when its page does not say `ready` soon after it is created, restored or shown
 * again (a restored webview can come back blank, its resources never loaded), and replaces the
 * tabs an earlier extension host left behind (after a host crash VS Code keeps the tabs, with
 * pages no host answers, and never calls the serializer for them). Re-created panels keep their
 * view state, editor group and position.
 */
export class PanelKeeper<S, P extends KeptPanel<S>> implements vscode.Disposable {
  private live: P | undefined;
  private readonly budget: RecreationBudget;
  private readonly baseTimeoutMs: number;
  private readonly graceMs: number;
  private readonly disposables: vscode.Disposable[] = [];
  private orphanSince: ReadonlyMap<string, number> = new Map();
  private wakeTimer: NodeJS.Timeout | undefined;
  private disposed = false;

  constructor(private readonly options: PanelKeeperOptions<S, P>) {
    this.budget = new RecreationBudget(options.maxRecreations ?? 3);
    this.baseTimeoutMs = options.readyTimeoutMs ?? 5000;
    this.graceMs = options.orphanGraceMs ?? 2500;
  }

  get current(): P | undefined {
    return this.live;
  }

  /** Reveals the live panel, else replaces a leftover tab of it, else opens one beside the active editor. */
  show(): P {
    if (this.live) {
      this.live.panel.reveal();
      return this.live;
    }
    const tabs = this.tabs();
    const leftover = tabs.find((tab) => tab.isActive) ?? tabs[0];
    if (leftover) return this.replaceTab(leftover, tabs, false);
    return this.open(vscode.ViewColumn.Active, false, undefined);
  }

  /** Brings the panel back after a reload: an invalid saved state is logged and replaced by Lifeline's. */
  registerSerializer(): vscode.Disposable {
    const { viewType, schema, logger } = this.options;
    return vscode.window.registerWebviewPanelSerializer(viewType, {
      deserializeWebviewPanel: async (panel: vscode.WebviewPanel, rawState: unknown) => {
        const parsed = schema.safeParse(rawState);
        if (!parsed.success && rawState !== undefined) {
          logger.warn(`[${viewType}] saved panel state was not valid, starting fresh: ${parsed.error.message}`);
        }
        if (this.live || this.disposed) {
          // A second restored tab, or one Lifeline replaced while VS Code was restoring it: keep one.
          panel.dispose();
          return;
        }
        panel.webview.options = webviewOptions(this.options.extensionUri);
        this.adopt(panel, parsed.success ? parsed.data : undefined, 'restored');
      },
    });
  }

  /**
   * Watches the tab model for tabs of this panel that no live panel backs, and replaces them.
   * Started once Lifeline's saved view state can be read, which the replacements start from.
   */
  recoverTabs(): void {
    if (this.disposed) return;
    const groups = vscode.window.tabGroups;
    this.disposables.push(
      groups.onDidChangeTabs(() => this.reconcile()),
      groups.onDidChangeTabGroups(() => this.reconcile()),
    );
    this.reconcile();
  }

  private tabs(): vscode.Tab[] {
    const { viewType } = this.options;
    // A webview tab's view type is the panel's, prefixed by VS Code ("mainThreadWebview-lifeline.queuePanel").
    const matches = (type: string) => type === viewType || type.endsWith(`-${viewType}`);
    return vscode.window.tabGroups.all.flatMap((group) =>
      group.tabs.filter((tab) => tab.input instanceof vscode.TabInputWebview && matches(tab.input.viewType)),
    );
  }

  private static keyOf(tab: vscode.Tab): string {
    return `${tab.group.viewColumn}:${tab.label}`;
  }

  private reconcile(): void {
    if (this.disposed) return;
    clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    const tabs = this.tabs();
    const described: PanelTab[] = tabs.map((tab) => ({ key: PanelKeeper.keyOf(tab), column: tab.group.viewColumn, active: tab.isActive }));
    const live = this.live && { column: this.live.panel.viewColumn, visible: this.live.panel.visible };
    const plan = planTabRecovery({ tabs: described, live, orphanSince: this.orphanSince, now: Date.now(), graceMs: this.graceMs });
    this.orphanSince = plan.orphanSince;
    const byKey = (key: string) => tabs.find((tab) => PanelKeeper.keyOf(tab) === key);
    const replaced = plan.replace !== undefined ? byKey(plan.replace) : undefined;
    if (replaced) this.replaceTab(replaced, tabs, true);
    else for (const key of plan.close) void this.closeTab(byKey(key), 'a live panel exists');
    if (plan.wakeAt !== undefined) this.wakeTimer = setTimeout(() => this.reconcile(), Math.max(0, plan.wakeAt - Date.now()));
  }

  /**
   * Opens a live panel where `tab` is and closes the tab (and any other of this panel's). A new
   * editor opens right of its group's active one: when `tab` is active, that is its own place.
   */
  private replaceTab(tab: vscode.Tab, all: readonly vscode.Tab[], preserveFocus: boolean): P {
    this.options.logger.info(
      `[panels] ${this.options.description} in editor group ${tab.group.viewColumn} has no live panel behind it (an earlier extension host's page, or one VS Code did not restore): replacing it`,
    );
    const replacement = this.open(tab.group.viewColumn, preserveFocus, undefined);
    for (const old of all) void this.closeTab(old, 'replaced');
    return replacement;
  }

  private async closeTab(tab: vscode.Tab | undefined, why: string): Promise<void> {
    if (!tab) return;
    if (why !== 'replaced') {
      this.options.logger.info(`[panels] closing a tab of ${this.options.description} in editor group ${tab.group.viewColumn}: ${why}`);
    }
    try {
      await vscode.window.tabGroups.close(tab, true);
    } catch (error) {
      // Already closed (VS Code restored and Lifeline disposed it meanwhile): nothing left to do.
      this.options.logger.debug(`[panels] could not close a tab of ${this.options.description} (${why}): ${String(error)}`);
    }
  }

  private open(column: vscode.ViewColumn, preserveFocus: boolean, state: S | undefined): P {
    const panel = vscode.window.createWebviewPanel(
      this.options.viewType,
      this.options.title,
      { viewColumn: column, preserveFocus },
      webviewOptions(this.options.extensionUri),
    );
    return this.adopt(panel, state, 'created');
  }

  private adopt(panel: vscode.WebviewPanel, state: S | undefined, how: 'created' | 'restored'): P {
    const kept = this.options.create(panel, state);
    this.live = kept;
    // Graces counted without this panel do not hold with it (see planTabRecovery).
    this.orphanSince = new Map();
    this.watchReady(kept, how);
    return kept;
  }

  /**
   * The ready handshake: a page that does not post `{type:'ready'}` within the timeout of being
   * created, restored, shown again (a hidden webview reloads its page when shown) or moved into
   * another group (which reloads it too) is re-created.
   */
  private watchReady(kept: P, how: 'created' | 'restored'): void {
    const panel = kept.panel;
    let timer: NodeJS.Timeout | undefined;
    let wasVisible = panel.visible;
    // A restored panel's first column can be stale (VS Code reports it before its groups settle):
    // the first view state event says where it is, not that it moved.
    let wasColumn = how === 'created' && panel.viewColumn !== undefined && panel.viewColumn >= 1 ? panel.viewColumn : undefined;
    const arm = (why: string) => {
      clearTimeout(timer);
      const timeoutMs = readyTimeoutMs(this.baseTimeoutMs, this.budget.attempts);
      timer = setTimeout(() => this.recreate(kept, why, timeoutMs), timeoutMs);
    };
    const subscriptions = [
      panel.webview.onDidReceiveMessage((message: unknown) => {
        if ((message as { type?: unknown } | undefined)?.type !== 'ready') return;
        clearTimeout(timer);
        timer = undefined;
        this.budget.succeeded();
      }),
      panel.onDidChangeViewState(() => {
        // Moved into another editor group, the webview loads its page again too.
        const moved = wasColumn !== undefined && panel.viewColumn !== wasColumn;
        if (panel.visible && (!wasVisible || moved)) arm(wasVisible ? 'moved' : 'shown again');
        else if (!panel.visible) clearTimeout(timer);
        wasVisible = panel.visible;
        wasColumn = panel.viewColumn;
        this.reconcile();
      }),
      panel.onDidDispose(() => {
        clearTimeout(timer);
        for (const subscription of subscriptions) subscription.dispose();
        if (this.live === kept) {
          this.live = undefined;
          this.orphanSince = new Map();
        }
        this.reconcile();
      }),
    ];
    if (panel.visible) arm(how);
  }

  private recreate(kept: P, why: string, timeoutMs: number): void {
    if (this.live !== kept || this.disposed) return;
    const { description, logger } = this.options;
    const column = kept.panel.viewColumn ?? vscode.ViewColumn.Active;
    if (!this.budget.failed()) {
      logger.error(`[panels] ${description} did not load after ${this.budget.max} re-creations; it is left as it is`);
      if (this.budget.shouldReportExhausted()) {
        void vscode.window
          .showWarningMessage(`Lifeline: ${description} did not load. Close its tab and open it again.`, 'Show Log')
          .then((choice) => {
            if (choice) void vscode.commands.executeCommand(CommandIds.showLog);
          });
      }
      return;
    }
    logger.warn(
      `[panels] ${description} did not say it is ready within ${timeoutMs} ms of being ${why}: re-created it in editor group ${column} (re-creation ${this.budget.attempts} of ${this.budget.max})`,
    );
    // Opened right of the old one (active in its group, since it is on screen), which then goes.
    // Never with the focus: the user may be in a quick pick or another editor by now, and a
    // re-creation nobody asked for must not close the one or leave the other.
    this.open(column, true, kept.viewState);
    kept.dispose();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    clearTimeout(this.wakeTimer);
    this.live?.dispose();
    this.live = undefined;
    while (this.disposables.length) this.disposables.pop()?.dispose();
  }
}
