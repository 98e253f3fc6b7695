import * as vscode from 'vscode';
import type { Job } from '../../core/queue/jobModel';
import { actionApplies, describeJobState } from '../../core/queue/jobSummary';
import { displayState } from '../../shared/jobDisplay';
import type {
  JobAction,
  JobRow,
  JobsNotification,
  QueuePanelCommand,
  QueuePanelNotification,
  QueuePanelState,
} from '../../shared/queuePanelProtocol';
import { defaultQueuePanelState, queuePanelViewType } from '../../shared/queuePanelProtocol';
import { queuePanelCommandSchema, queuePanelStateSchema } from '../../shared/queuePanelSchemas';
import { CommandIds } from '../../shared/commandIds';
import type { QueueHost } from '../queueHost';
import { OPENING_QUEUE, statusOfRole } from '../queueStatus';
import type { OwnCommand, PanelDefinition, PanelServices, RegisteredPanel } from './webviewPanelBase';
import { WebviewPanelBase, registerPanel } from './webviewPanelBase';

/** Where the dashboard gets the queue: it may open after the panel (trust granted, slow disk). */
export interface QueueSource {
  readonly queue: QueueHost | undefined;
  readonly unavailableReason: string | undefined;
  /** Fires when the queue opens or closes. */
  readonly onDidChangeQueue: vscode.Event<void>;
}

const definition: PanelDefinition<QueuePanelState, QueuePanelCommand> = {
  viewType: queuePanelViewType,
  title: 'Lifeline Queue',
  description: 'the Queue dashboard',
  page: 'queuePanel',
  stateSchema: queuePanelStateSchema,
  defaultState: defaultQueuePanelState,
  commandSchema: queuePanelCommandSchema,
};

const ACTION_COMMANDS: Record<JobAction, string> = {
  cancel: CommandIds.cancelJob,
  retry: CommandIds.retryJob,
  resume: CommandIds.resumeJob,
  discard: CommandIds.discardJob,
  showOutput: CommandIds.showJobOutput,
};

/** The queue changes with every progress line; the webview needs it a few times a second at most. */
const POST_INTERVAL_MS = 200;

/** Registers the Queue dashboard: restored after a reload by its serializer from the small view state the webview saves. */
export function registerQueuePanel(services: PanelServices, source: QueueSource): RegisteredPanel<QueuePanel> {
  return registerPanel(definition, services, (panel, state) => new QueuePanel(panel, services, source, state));
}

/** The Queue dashboard: the queue's jobs, filtered and selected in the webview, acted on through Lifeline's commands. */
export class QueuePanel extends WebviewPanelBase<QueuePanelState, QueuePanelCommand, QueuePanelNotification> {
  private queueSubscription: vscode.Disposable | undefined;

  constructor(
    panel: vscode.WebviewPanel,
    services: PanelServices,
    private readonly source: QueueSource,
    initialState: QueuePanelState | undefined,
  ) {
    super(panel, definition, services, initialState);
    this.register(source.onDidChangeQueue(() => this.followQueue()));
    // Trust can be granted while the panel is open (never revoked without a reload).
    this.register(vscode.workspace.onDidGrantWorkspaceTrust(() => this.postInit()));
    this.register({ dispose: () => this.queueSubscription?.dispose() });
    this.followQueue();
  }

  private followQueue(): void {
    this.queueSubscription?.dispose();
    this.queueSubscription = this.source.queue?.onDidChange(() => this.schedulePost());
    this.schedulePost();
  }

  private schedulePost(): void {
    this.postLatest(() => this.jobsNotification(), POST_INTERVAL_MS);
  }

  protected onReady(): void {
    this.postInit();
    this.schedulePost();
  }

  protected onCommand(command: OwnCommand<QueuePanelCommand>): void {
    switch (command.type) {
      case 'showLog':
        void vscode.commands.executeCommand(CommandIds.showLog);
        return;
      case 'runJob':
        void vscode.commands.executeCommand(CommandIds.runJob);
        return;
      case 'retrySaving':
        void vscode.commands.executeCommand(CommandIds.retrySaving);
        return;
      case 'jobAction': {
        // The id goes to the same command the tree uses, which looks the job up and checks its state.
        const job = this.source.queue?.getJob(command.jobId);
        if (!job) return this.logger.warn(`[queuePanel] ignored ${command.action} of an unknown job ${command.jobId}`);
        void vscode.commands.executeCommand(ACTION_COMMANDS[command.action], { kind: 'job', job });
        return;
      }
    }
  }

  private postInit(): void {
    void this.post({
      type: 'init',
      state: this.viewState,
      workspaceName: vscode.workspace.name ?? 'no folder open',
      trusted: vscode.workspace.isTrusted,
    });
  }

  private jobsNotification(): JobsNotification {
    const queue = this.source.queue;
    const reason = queue ? undefined : this.source.unavailableReason;
    return {
      type: 'jobs',
      jobs: queue?.jobs.map(toRow) ?? [],
      paused: queue?.flags?.paused ?? false,
      unavailable: queue ? undefined : (reason ?? OPENING_QUEUE),
      status: queue ? statusOfRole(queue.role) : reason ? 'unavailable' : 'opening',
      notices: queue?.storageNotices ?? [],
    };
  }
}

function toRow(job: Job): JobRow {
  const actions: JobAction[] = (['cancel', 'resume', 'retry', 'discard'] as const).filter((action) => actionApplies(action, job));
  if (job.attempts > 0) actions.push('showOutput');
  return {
    id: job.id,
    name: job.name,
    state: displayState(job),
    description: describeJobState(job),
    detail: job.kind === 'pipeline' ? job.stages.map((stage) => stage.name).join(' → ') : (job.stages[0]?.command ?? ''),
    tags: job.tags,
    progress: job.state === 'running' ? job.progress?.fraction : undefined,
    actions,
  };
}
