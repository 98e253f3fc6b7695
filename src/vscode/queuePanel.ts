import * as vscode from 'vscode';
import type { Logger } from '../core/logger';
import type { Job } from '../core/queue/jobModel';
import { actionApplies, describeJobState } from '../core/queue/jobSummary';
import type { InitNotification, JobAction, JobRow, JobsNotification, QueuePanelState } from '../shared/queuePanelProtocol';
import { defaultQueuePanelState, queuePanelViewType } from '../shared/queuePanelProtocol';
import { displayState } from '../shared/jobDisplay';
import { queuePanelCommandSchema, queuePanelStateSchema } from '../shared/queuePanelSchemas';
import type { ViewStateFiles } from '../core/storage/viewStateFiles';
import type { QueueHost } from './queueHost';
import { PanelKeeper } from './panelKeeper';
import { OPENING_QUEUE, statusOfRole } from './queueStatus';
import { webviewHtml } from './webviewHtml';

/** Where the dashboard gets the queue: it may open after the panel (trust granted, slow disk). */
export interface QueueSource {
  readonly queue: QueueHost | undefined;
  readonly unavailableReason: string | undefined;
  /** Fires when the queue opens or closes. */
  readonly onDidChangeQueue: vscode.Event<void>;
}

const ACTION_COMMANDS: Record<JobAction, string> = {
  cancel: 'lifeline.cancelJob',
  retry: 'lifeline.retryJob',
  resume: 'lifeline.resumeJob',
  discard: 'lifeline.discardJob',
  showOutput: 'lifeline.showJobOutput',
};

/** The queue changes with every progress line; the webview needs it a few times a second at most. */
const POST_INTERVAL_MS = 200;

/**
 * The Queue dashboard: one webview panel, restored after a reload by its serializer from the
 * small view state the webview saves with setState (STYLE.md rule 6).
 */
export class QueuePanel implements vscode.Disposable {
  private static keeper: PanelKeeper<QueuePanelState, QueuePanel> | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private state: QueuePanelState;

  /** Set once by the extension, before any panel exists. */
  static source: QueueSource | undefined;
  /** Lifeline's own copy of the panel's view state (a new browser profile has none of VS Code's). */
  static viewState: ViewStateFiles | undefined;

  /** Reveals the dashboard, or opens it (in place of a tab an earlier extension host left). */
  static show(): QueuePanel | undefined {
    return QueuePanel.keeper?.show();
  }

  /** Registers the serializer and the keeper that bring the panel back live after a reload or a host crash. */
  static register(extensionUri: vscode.Uri, logger: Logger): vscode.Disposable {
    const keeper = new PanelKeeper<QueuePanelState, QueuePanel>({
      viewType: queuePanelViewType,
      title: 'Lifeline Queue',
      description: 'the Queue dashboard',
      schema: queuePanelStateSchema,
      extensionUri,
      logger,
      create: (panel, state) => new QueuePanel(panel, extensionUri, logger, state),
    });
    QueuePanel.keeper = keeper;
    return vscode.Disposable.from(keeper.registerSerializer(), keeper, { dispose: () => void (QueuePanel.keeper === keeper && (QueuePanel.keeper = undefined)) });
  }

  /** Starts replacing tabs no live panel backs; once Lifeline's saved view state can be read. */
  static recoverTabs(): void {
    QueuePanel.keeper?.recoverTabs();
  }

  private constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly extensionUri: vscode.Uri,
    private readonly logger: Logger,
    /** Undefined: the state Lifeline saved last, else the default. */
    initialState: QueuePanelState | undefined,
  ) {
    this.state = initialState ?? defaultQueuePanelState;
    this.stateLoaded = initialState ? Promise.resolve() : this.loadSavedState();
    panel.webview.html = this.renderHtml(panel.webview);
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((message: unknown) => this.onMessage(message)),
      // Trust can be granted while the panel is open (never revoked without a reload).
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.postInit()),
    );
    const source = QueuePanel.source;
    if (source) this.disposables.push(source.onDidChangeQueue(() => this.followQueue()));
    this.followQueue();
  }

  private queueSubscription: vscode.Disposable | undefined;
  private postTimer: NodeJS.Timeout | undefined;
  private lastPostAt = 0;
  private ready = false;

  private followQueue(): void {
    this.queueSubscription?.dispose();
    this.queueSubscription = QueuePanel.source?.queue?.onDidChange(() => this.schedulePost());
    this.schedulePost();
  }

  /** Posts the queue now, or once the interval since the last post has passed (the last state wins). */
  private schedulePost(): void {
    if (!this.ready || this.postTimer) return;
    const wait = Math.max(0, this.lastPostAt + POST_INTERVAL_MS - Date.now());
    this.postTimer = setTimeout(() => {
      this.postTimer = undefined;
      this.lastPostAt = Date.now();
      void this.panel.webview.postMessage(this.jobsNotification());
    }, wait);
  }

  private jobsNotification(): JobsNotification {
    const source = QueuePanel.source;
    const queue = source?.queue;
    const reason = queue ? undefined : source?.unavailableReason;
    return {
      type: 'jobs',
      jobs: queue?.jobs.map(toRow) ?? [],
      paused: queue?.flags?.paused ?? false,
      unavailable: queue ? undefined : (reason ?? OPENING_QUEUE),
      status: queue ? statusOfRole(queue.role) : reason ? 'unavailable' : 'opening',
    };
  }

  private readonly stateLoaded: Promise<void>;

  private async loadSavedState(): Promise<void> {
    const saved = await QueuePanel.viewState?.load('queuePanel', queuePanelStateSchema);
    if (saved) this.state = saved;
  }

  get viewState(): QueuePanelState {
    return this.state;
  }

  private onMessage(raw: unknown): void {
    const parsed = queuePanelCommandSchema.safeParse(raw);
    if (!parsed.success) {
      this.logger.warn(`[queuePanel] ignored an invalid message from the webview: ${parsed.error.issues[0]?.message ?? 'unknown shape'}`);
      return;
    }
    const message = parsed.data;
    switch (message.type) {
      case 'ready':
        void this.stateLoaded.then(() => {
          this.ready = true;
          this.postInit();
          this.schedulePost();
        });
        break;
      case 'stateChanged':
        this.state = message.state;
        QueuePanel.viewState?.save('queuePanel', message.state);
        break;
      case 'showLog':
        void vscode.commands.executeCommand('lifeline.showLog');
        break;
      case 'runJob':
        void vscode.commands.executeCommand('lifeline.runJob');
        break;
      case 'jobAction': {
        // The id goes to the same command the tree uses, which looks the job up and checks its state.
        const job = QueuePanel.source?.queue?.getJob(message.jobId);
        if (!job) {
          this.logger.warn(`[queuePanel] ignored ${message.action} of an unknown job ${message.jobId}`);
          break;
        }
        void vscode.commands.executeCommand(ACTION_COMMANDS[message.action], { kind: 'job', job });
        break;
      }
    }
  }

  private postInit(): void {
    const init: InitNotification = {
      type: 'init',
      state: this.state,
      workspaceName: vscode.workspace.name ?? 'no folder open',
      trusted: vscode.workspace.isTrusted,
    };
    void this.panel.webview.postMessage(init);
  }

  private renderHtml(webview: vscode.Webview): string {
    return webviewHtml(webview, this.extensionUri, 'queuePanel', 'Lifeline Queue');
  }

  private disposed = false;

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    clearTimeout(this.postTimer);
    this.queueSubscription?.dispose();
    this.panel.dispose();
    while (this.disposables.length) this.disposables.pop()?.dispose();
  }

  static get currentPanel(): QueuePanel | undefined {
    return QueuePanel.keeper?.current;
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
