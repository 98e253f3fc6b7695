import * as vscode from 'vscode';
import type { Job, JobState } from '../core/jobs/jobModel';
import { describeJobState, describeRecovery, formatDuration, recoveryInfo } from '../core/jobs/jobSummary';
import type { QueueHost } from './queueHost';

export type QueueTreeNode = { readonly kind: 'job'; readonly job: Job } | { readonly kind: 'stage'; readonly job: Job; readonly index: number };

const STATE_ICONS: Record<JobState, [string, string | undefined]> = {
  queued: ['clock', undefined],
  delayed: ['watch', undefined],
  running: ['loading~spin', undefined],
  succeeded: ['pass', 'testing.iconPassed'],
  failed: ['error', 'testing.iconFailed'],
  cancelled: ['circle-slash', 'disabledForeground'],
  interrupted: ['debug-disconnect', 'list.warningForeground'],
};

/**
 * The Queue view (or, with `filter`, the Recovery view of interrupted jobs). Each job's
 * contextValue carries its state, so the inline actions in package.json (cancel, retry, resume,
 * discard) appear only where they apply. Pipelines expand into their stages.
 */
export class QueueTreeProvider implements vscode.TreeDataProvider<QueueTreeNode>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.emitter.event;
  private host: QueueHost | undefined;
  private subscription: vscode.Disposable | undefined;

  constructor(private readonly filter: (job: Job) => boolean = () => true) {}

  /** Shows this queue (or nothing, with undefined: no folder, untrusted, or not open yet). */
  attach(host: QueueHost | undefined): void {
    this.subscription?.dispose();
    this.host = host;
    this.subscription = host?.onDidChange(() => this.emitter.fire());
    this.emitter.fire();
  }

  /** The jobs the view shows, in queue order. */
  get jobs(): Job[] {
    return this.host?.jobs.filter(this.filter) ?? [];
  }

  getChildren(node?: QueueTreeNode): QueueTreeNode[] {
    if (!node) return this.jobs.map((job) => ({ kind: 'job', job }));
    if (node.kind === 'job' && node.job.kind === 'pipeline') return node.job.stages.map((_, index) => ({ kind: 'stage', job: node.job, index }));
    return [];
  }

  getTreeItem(node: QueueTreeNode): vscode.TreeItem {
    return node.kind === 'job' ? jobItem(node.job) : stageItem(node.job, node.index);
  }

  /** Tooltips are built on hover only: the tree refreshes with every progress line, and a recovery tooltip checks files. */
  resolveTreeItem(item: vscode.TreeItem, node: QueueTreeNode): vscode.TreeItem {
    if (node.kind === 'job') item.tooltip = jobTooltip(node.job);
    return item;
  }

  dispose(): void {
    this.subscription?.dispose();
    this.emitter.dispose();
  }
}

function jobItem(job: Job): vscode.TreeItem {
  const item = new vscode.TreeItem(job.name, job.kind === 'pipeline' ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
  // The id includes the kind so that a collapsed pipeline keeps its state across refreshes.
  item.id = `job:${job.id}`;
  item.description = describeJobState(job);
  const [icon, color] = STATE_ICONS[job.state];
  item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
  item.contextValue = `lifeline.job.${job.state}${job.state === 'interrupted' ? '.recoverable' : ''}`;
  item.accessibilityInformation = { label: `${job.name}, ${describeJobState(job)}` };
  return item;
}

function stageItem(job: Job, index: number): vscode.TreeItem {
  const stage = job.stages[index];
  const item = new vscode.TreeItem(stage?.name ?? `stage ${index + 1}`, vscode.TreeItemCollapsibleState.None);
  item.id = `stage:${job.id}:${index}`;
  const done = stage !== undefined && job.completedStages.includes(stage.name);
  const current = job.state === 'running' && job.currentStage === index;
  item.iconPath = new vscode.ThemeIcon(done ? 'check' : current ? 'loading~spin' : 'circle-outline', done ? new vscode.ThemeColor('testing.iconPassed') : undefined);
  item.description = done ? 'done' : current ? 'running' : job.state === 'interrupted' && job.currentStage === index ? 'interrupted here' : '';
  item.tooltip = stage?.command;
  item.contextValue = 'lifeline.stage';
  return item;
}

function jobTooltip(job: Job): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  md.appendMarkdown(`**${escape(job.name)}** — ${escape(describeJobState(job))}\n\n`);
  for (const [index, stage] of job.stages.entries()) md.appendMarkdown(`${job.kind === 'pipeline' ? `${index + 1}. ${escape(stage.name)}: ` : ''}\`${stage.command.replace(/`/g, "'")}\`\n\n`);
  if (job.attempts > 1) md.appendMarkdown(`Attempt ${job.attempts} of ${job.retry.maxAttempts}\n\n`);
  if (job.actualDurationMs !== undefined) md.appendMarkdown(`Took ${formatDuration(job.actualDurationMs)}\n\n`);
  if (job.result?.error && job.state !== 'succeeded') md.appendMarkdown(`Error: ${escape(job.result.error)}\n\n`);
  if (job.state === 'interrupted') md.appendMarkdown(`Recovery: ${escape(describeRecovery(job, recoveryInfo(job)) || 'resumes from the start')}\n\n`);
  if (job.tags.length > 0) md.appendMarkdown(job.tags.map((tag) => `\`${tag}\``).join(' '));
  return md;
}

function escape(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}
