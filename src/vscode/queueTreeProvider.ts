import * as vscode from 'vscode';
import type { Job } from '../core/queue/jobModel';
import { describeJobState, describeRecovery, recoveryInfo } from '../core/queue/jobSummary';
import type { DisplayState } from '../shared/jobDisplay';
import { displayState, formatDuration } from '../shared/jobDisplay';
import { CommandIds } from '../shared/commandIds';
import type { StorageNotice } from '../shared/queuePanelProtocol';

export type QueueTreeNode =
  | { readonly kind: 'job'; readonly job: Job }
  | { readonly kind: 'stage'; readonly job: Job; readonly index: number }
  | { readonly kind: 'notice'; readonly notice: StorageNotice };

/** What the views need of the queue: the QueueHost, or the extension's queue API. */
export interface QueueTreeSource {
  readonly jobs: readonly Job[];
  readonly onDidChange: vscode.Event<void>;
  /** Not saving, low disk space: rows above the jobs (views created with `notices`). */
  readonly storageNotices?: readonly StorageNotice[];
}

export interface QueueTreeOptions {
  /** Which jobs the view lists (the Recovery view: interrupted ones). @default every job */
  readonly filter?: (job: Job) => boolean;
  /** Rows whose state did not change are redrawn at most once per this interval. @default 250 */
  readonly progressIntervalMs?: number;
  /** Whether storage notices are listed above the jobs (the Queue view). @default false */
  readonly notices?: boolean;
}

const STATE_ICONS: Record<DisplayState, [string, string | undefined]> = {
  queued: ['clock', undefined],
  delayed: ['watch', undefined],
  running: ['loading~spin', undefined],
  succeeded: ['pass', 'testing.iconPassed'],
  failed: ['error', 'testing.iconFailed'],
  timedOut: ['watch', 'testing.iconFailed'],
  cancelled: ['circle-slash', 'disabledForeground'],
  interrupted: ['debug-disconnect', 'list.warningForeground'],
};

/**
 * A row keeps its object for as long as its job is listed: VS Code finds the row to redraw by the
 * element's identity, and keeps selection, expansion and an open tooltip only on rows it is not
 * told to redraw. The job inside is replaced with each change.
 */
class JobNode {
  readonly kind = 'job';
  /** What the row showed when VS Code was last told about it; a change that keeps it redraws nothing. */
  shown: string | undefined;
  private stageNodes: StageNode[] | undefined;
  constructor(public job: Job) {}

  get stages(): StageNode[] {
    this.stageNodes ??= this.job.stages.map((_, index) => new StageNode(this, index));
    return this.stageNodes;
  }
}

class StageNode {
  readonly kind = 'stage';
  constructor(
    readonly parent: JobNode,
    readonly index: number,
  ) {}

  get job(): Job {
    return this.parent.job;
  }
}

/**
 * The Queue view (or, with `filter`, the Recovery view of interrupted jobs). Each job's
 * contextValue carries its stored state, so the inline actions in package.json (cancel, retry,
 * resume, discard) appear only where they apply. Pipelines expand into their stages.
 *
 * A job prints progress many times a second, and a refresh of the whole tree closes any tooltip and
 * can lose the focus: only the rows that changed are redrawn, a state change at once and anything
 * else at most once per `progressIntervalMs`. The whole tree is redrawn only when the set or the
 * order of its rows changes.
 */
export class QueueTreeProvider implements vscode.TreeDataProvider<QueueTreeNode>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<QueueTreeNode[] | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly listedEmitter = new vscode.EventEmitter<number>();
  /** How many rows VS Code was just given for the root, fired after it asked for them. */
  readonly onDidListRows = this.listedEmitter.event;
  private source: QueueTreeSource | undefined;
  private subscription: vscode.Disposable | undefined;
  private readonly filter: (job: Job) => boolean;
  private readonly intervalMs: number;
  /** The listed rows by job id, and their order as VS Code last fetched or was told it. */
  private nodes = new Map<string, JobNode>();
  private order: string[] = [];
  private readonly pending = new Set<JobNode>();
  private timer: NodeJS.Timeout | undefined;
  private lastFlushAt = 0;
  private readonly showNotices: boolean;
  /** The notices as last listed, and their text, which a whole refresh replaces. */
  private noticeNodes: { readonly kind: 'notice'; readonly notice: StorageNotice }[] = [];
  private noticesShown = '[]';

  constructor(options: QueueTreeOptions = {}) {
    this.filter = options.filter ?? (() => true);
    this.intervalMs = options.progressIntervalMs ?? 250;
    this.showNotices = options.notices ?? false;
  }

  private get notices(): readonly StorageNotice[] {
    return this.showNotices ? (this.source?.storageNotices ?? []) : [];
  }

  /** Shows this queue (or nothing, with undefined: no folder, untrusted, or not open yet). */
  attach(source: QueueTreeSource | undefined): void {
    this.subscription?.dispose();
    this.source = source;
    this.subscription = source?.onDidChange(() => this.onQueueChanged());
    this.nodes = new Map();
    this.order = [];
    this.fireAll();
  }

  /** The jobs the view shows, in queue order. */
  get jobs(): Job[] {
    return this.source?.jobs.filter(this.filter) ?? [];
  }

  getChildren(node?: QueueTreeNode): QueueTreeNode[] {
    if (!node) {
      this.reconcile(this.jobs);
      const notices = this.notices;
      this.noticesShown = JSON.stringify(notices);
      this.noticeNodes = notices.map((notice) => ({ kind: 'notice', notice }));
      const rows = [...this.noticeNodes, ...this.order.map((id) => this.nodes.get(id)).filter((row) => row !== undefined)];
      // After the reply: a context key that says "rows are listed" must not reach the workbench
      // before the rows do, or the welcome for a view whose host is gone flashes.
      setTimeout(() => this.listedEmitter.fire(rows.length), 0);
      return rows;
    }
    if (node instanceof JobNode && node.job.kind === 'pipeline') return node.stages;
    return [];
  }

  getParent(node: QueueTreeNode): QueueTreeNode | undefined {
    return node instanceof StageNode ? node.parent : undefined;
  }

  getTreeItem(node: QueueTreeNode): vscode.TreeItem {
    if (node.kind === 'notice') return noticeItem(node.notice);
    if (node instanceof JobNode) node.shown = rowSignature(node.job);
    return node.kind === 'job' ? jobItem(node.job) : stageItem(node.job, node.index);
  }

  /** Tooltips are built on hover only: a recovery tooltip checks files. */
  resolveTreeItem(item: vscode.TreeItem, node: QueueTreeNode): vscode.TreeItem {
    if (node.kind === 'job') item.tooltip = jobTooltip(node.job);
    return item;
  }

  private onQueueChanged(): void {
    const jobs = this.jobs;
    // A notice that comes or goes (or says something new) changes the rows: a whole refresh.
    if (this.reconcile(jobs) || JSON.stringify(this.notices) !== this.noticesShown) {
      this.fireAll();
      return;
    }
    let stateChanged = false;
    for (const job of jobs) {
      const node = this.nodes.get(job.id);
      if (!node || node.job === job) continue;
      const before = node.job;
      node.job = job;
      if (rowSignature(job) === node.shown) continue;
      this.pending.add(node);
      if (before.state !== job.state) stateChanged = true;
    }
    if (this.pending.size === 0) return;
    if (stateChanged) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), Math.max(0, this.lastFlushAt + this.intervalMs - Date.now()));
  }

  /**
   * Brings the rows in line with the jobs, keeping the object of every row still listed. Returns
   * whether the set or order of rows changed, which only a whole refresh shows.
   */
  private reconcile(jobs: readonly Job[]): boolean {
    const same = jobs.length === this.order.length && jobs.every((job, index) => job.id === this.order[index]);
    if (same) return false;
    const nodes = new Map<string, JobNode>();
    for (const job of jobs) {
      const node = this.nodes.get(job.id) ?? new JobNode(job);
      node.job = job;
      nodes.set(job.id, node);
    }
    this.nodes = nodes;
    this.order = jobs.map((job) => job.id);
    return true;
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.lastFlushAt = Date.now();
    const changed = [...this.pending].filter((node) => this.nodes.get(node.job.id) === node);
    this.pending.clear();
    for (const node of changed) node.shown = rowSignature(node.job);
    if (changed.length > 0) this.emitter.fire(changed);
  }

  private fireAll(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
    this.emitter.fire(undefined);
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.subscription?.dispose();
    this.emitter.dispose();
    this.listedEmitter.dispose();
  }
}

/** Everything a job's row and its stage rows show, so that a change that shows nothing new redraws nothing. */
function rowSignature(job: Job): string {
  return JSON.stringify([
    job.name,
    job.state,
    displayState(job),
    describeJobState(job),
    job.kind === 'pipeline' ? [job.currentStage, job.completedStages] : 0,
    job.attempts,
    job.tags,
  ]);
}

function jobItem(job: Job): vscode.TreeItem {
  const item = new vscode.TreeItem(
    job.name,
    job.kind === 'pipeline' ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None,
  );
  // The id includes the kind so that a collapsed pipeline keeps its state across refreshes.
  item.id = `job:${job.id}`;
  item.description = describeJobState(job);
  const [icon, color] = STATE_ICONS[displayState(job)];
  item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
  // The stored state: a timed-out job offers what any failed job offers.
  item.contextValue = `lifeline.job.${job.state}${job.state === 'interrupted' ? '.recoverable' : ''}`;
  item.accessibilityInformation = { label: `${job.name}, ${describeJobState(job)}` };
  return item;
}

/** A storage notice: one line, the detail on hover, and a click (or the inline button) that retries. */
function noticeItem(notice: StorageNotice): vscode.TreeItem {
  const item = new vscode.TreeItem(notice.title, vscode.TreeItemCollapsibleState.None);
  item.id = `notice:${notice.kind}`;
  item.tooltip = notice.detail;
  item.iconPath =
    notice.kind === 'notSaving'
      ? new vscode.ThemeIcon('error', new vscode.ThemeColor('list.errorForeground'))
      : new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground'));
  item.contextValue = `lifeline.notice.${notice.kind}`;
  if (notice.retry) item.command = { command: CommandIds.retrySaving, title: 'Retry Saving' };
  item.accessibilityInformation = { label: `${notice.title}. ${notice.detail}` };
  return item;
}

function stageItem(job: Job, index: number): vscode.TreeItem {
  const stage = job.stages[index];
  const item = new vscode.TreeItem(stage?.name ?? `stage ${index + 1}`, vscode.TreeItemCollapsibleState.None);
  item.id = `stage:${job.id}:${index}`;
  const done = stage !== undefined && job.completedStages.includes(stage.name);
  const current = job.state === 'running' && job.currentStage === index;
  item.iconPath = new vscode.ThemeIcon(
    done ? 'check' : current ? 'loading~spin' : 'circle-outline',
    done ? new vscode.ThemeColor('testing.iconPassed') : undefined,
  );
  item.description = done
    ? 'done'
    : current
      ? 'running'
      : job.state === 'interrupted' && job.currentStage === index
        ? 'interrupted here'
        : '';
  item.tooltip = stage?.command;
  item.contextValue = 'lifeline.stage';
  return item;
}

function jobTooltip(job: Job): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  md.appendMarkdown(`**${escape(job.name)}** — ${escape(describeJobState(job))}\n\n`);
  for (const [index, stage] of job.stages.entries()) {
    md.appendMarkdown(
      `${job.kind === 'pipeline' ? `${index + 1}. ${escape(stage.name)}: ` : ''}\`${stage.command.replace(/`/g, "'")}\`\n\n`,
    );
  }
  if (job.attempts > 1) md.appendMarkdown(`Attempt ${job.attempts} of ${job.retry.maxAttempts}\n\n`);
  if (job.actualDurationMs !== undefined) md.appendMarkdown(`Took ${formatDuration(job.actualDurationMs)}\n\n`);
  if (job.result?.error && job.state !== 'succeeded') md.appendMarkdown(`Error: ${escape(job.result.error)}\n\n`);
  if (job.state === 'interrupted') {
    md.appendMarkdown(`Recovery: ${escape(describeRecovery(job, recoveryInfo(job)) || 'resumes from the start')}\n\n`);
  }
  if (job.tags.length > 0) md.appendMarkdown(job.tags.map((tag) => `\`${tag}\``).join(' '));
  return md;
}

function escape(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}
