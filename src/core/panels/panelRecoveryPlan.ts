/**
 * The decisions behind Lifeline's single-instance webview panels coming back live (docs/panels.md),
 * free of VS Code types so that they run in plain Node tests. src/vscode/panelKeeper.ts feeds
 * them what `window.tabGroups` and the live panel say and carries the steps out.
 */

/** One editor tab of the panel's view type, as the tab model shows it. */
export interface PanelTab {
  /** Stable while the tab stays where it is: its group's column, view type and label. */
  readonly key: string;
  readonly column: number;
  /** The selected tab of its group: on screen, so VS Code would have restored it by now. */
  readonly active: boolean;
}

/** Where the panel that this extension host backs is, if there is one. */
export interface LivePanelPlace {
  readonly column: number | undefined;
  readonly visible: boolean;
}

export interface TabRecoveryInput {
  readonly tabs: readonly PanelTab[];
  readonly live: LivePanelPlace | undefined;
  /**
   * When each orphan was first seen as one (and, without a live panel, on screen); from the last
   * plan, and empty whenever the live panel changed (its grace starts again).
   */
  readonly orphanSince: ReadonlyMap<string, number>;
  readonly now: number;
  /**
   * How long a tab must stay an orphan before it is acted on. After a reload VS Code restores a
   * visible panel through the serializer within moments of activation; after an extension-host
   * crash it never does, and the tab shows a page that no host answers.
   */
  readonly graceMs: number;
}

export interface TabRecoveryPlan {
  /** The orphan to replace by a live panel in its group and position (only when none is live). */
  readonly replace: string | undefined;
  /** Orphans to close: there is, or is about to be, a live panel elsewhere. */
  readonly close: readonly string[];
  readonly orphanSince: ReadonlyMap<string, number>;
  /** When to look again, if an orphan's grace is still running. */
  readonly wakeAt: number | undefined;
}

/**
 * The tab of the live panel: in its column and, when it is on screen, the active one there. Unless
 * exactly one tab fits, nothing is taken as an orphan: a wrong guess would close the live panel.
 * (A panel just created or restored has no column, or a stale one, until VS Code reports it.)
 */
function liveTabKey(tabs: readonly PanelTab[], live: LivePanelPlace): string | undefined {
  if (live.column === undefined || live.column < 1) return undefined;
  const inColumn = tabs.filter((tab) => tab.column === live.column && (!live.visible || tab.active));
  return inColumn.length === 1 ? inColumn[0]?.key : undefined;
}

/**
 * What to do about tabs of the panel's view type that no live panel backs. Without a live panel
 * a background orphan is left alone: VS Code restores a background tab only when it is shown
 * (the serializer may still come), and a dead one is handled once shown. With a live panel an
 * orphan in another group is closed (the panel is single-instance); tabs in the live panel's
 * own group are left (they cannot be told apart, and the serializer closes a second restored one).
 */
export function planTabRecovery(input: TabRecoveryInput): TabRecoveryPlan {
  const { tabs, live, now, graceMs } = input;
  let orphans: PanelTab[];
  if (live) {
    const own = liveTabKey(tabs, live);
    orphans = own !== undefined ? tabs.filter((tab) => tab.key !== own && tab.column !== live.column) : [];
  } else {
    orphans = tabs.filter((tab) => tab.active);
  }
  const orphanSince = new Map<string, number>();
  for (const tab of orphans) orphanSince.set(tab.key, input.orphanSince.get(tab.key) ?? now);
  const due = orphans.filter((tab) => now - (orphanSince.get(tab.key) ?? now) >= graceMs);
  const waiting = orphans.filter((tab) => !due.includes(tab));
  const wakeAt = waiting.length > 0 ? Math.min(...waiting.map((tab) => (orphanSince.get(tab.key) ?? now) + graceMs)) : undefined;
  if (due.length === 0) return { replace: undefined, close: [], orphanSince, wakeAt };
  if (live) return { replace: undefined, close: due.map((tab) => tab.key), orphanSince, wakeAt };
  const [first] = due;
  // One panel of the type: the first due orphan is replaced, every other tab of the type goes.
  return {
    replace: first?.key,
    close: tabs.filter((tab) => tab.key !== first?.key).map((tab) => tab.key),
    orphanSince: new Map(),
    wakeAt: undefined,
  };
}

/** How long a panel gets to say it is ready on its `attempt`-th re-creation (0: the first page). */
export function readyTimeoutMs(baseMs: number, attempt: number): number {
  return baseMs * 2 ** Math.min(attempt, 4);
}

/**
 * Bounds the re-creation of a panel whose page never says it is ready: after `max` in a row
 * (no ready between them) it stops, so a page that can never load is not re-created forever.
 */
export class RecreationBudget {
  private failures = 0;
  private exhaustedReported = false;

  constructor(readonly max: number) {}

  /** The number of re-creations since the last ready page. */
  get attempts(): number {
    return this.failures;
  }

  /** A page said it is ready: the next failure starts a new count. */
  succeeded(): void {
    this.failures = 0;
  }

  /** A page did not say it is ready: true when another re-creation is allowed. */
  failed(): boolean {
    if (this.failures >= this.max) return false;
    this.failures++;
    return true;
  }

  /** True once per budget, for the first refusal: the user is told once, not at every refusal. */
  shouldReportExhausted(): boolean {
    if (this.exhaustedReported) return false;
    this.exhaustedReported = true;
    return true;
  }
}
