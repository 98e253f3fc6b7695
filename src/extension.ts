// Must stay first: it answers zod's eval probe before any schema is built (see the module).
import './vscode/zodProbe';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { HistoryEntry } from './core/history/historyEntry';
import type { AuditOrigin, CommandResult, Job, QueueCommand } from './core/queue/jobModel';
import type { SessionRole } from './core/session/queueSession';
import type { Logger } from './core/logger';
import { ViewStateFiles } from './core/storage/viewStateFiles';
import type { ExtensionState, StateNamespaceOptions } from './core/state/extensionState';
import { StateError } from './core/state/stateErrors';
import { openWorkspaceDirectory } from './core/storage/workspaceDirectory';
import { CommandIds } from './shared/commandIds';
import { registerHistoryCommands } from './vscode/historyCommands';
import { registerBackupCommands } from './vscode/backupCommands';
import { registerChatTools } from './vscode/chatTools';
import { registerMcpServer } from './vscode/mcpRegistration';
import { registerEncryptionCommands } from './vscode/encryptionCommands';
import { secretKeyStore } from './vscode/secretKeyStore';
import { registerJobCommands } from './vscode/jobCommands';
import { registerJobOutputDocuments } from './vscode/jobOutputDocuments';
import { registerMaintenanceCommands } from './vscode/maintenanceCommands';
import { createLogChannel } from './vscode/logChannel';
import { registerHistoryPanel } from './vscode/panels/historyPanel';
import { registerQueuePanel } from './vscode/panels/queuePanel';
import { QueueStatusIndicator } from './vscode/queueStatus';
import type { StatusBarState } from './vscode/statusBar';
import { LifelineStatusBar, showSavingStatus } from './vscode/statusBar';
import { registerStorageHealth } from './vscode/storageHealthReport';
import { QueueTreeProvider } from './vscode/queueTreeProvider';
import type { StorageHealth } from './core/runtime/storageHealth';
import type { WindowPresence } from './core/runtime/windowHandOver';
import { EncryptionLockedError } from './core/runtime/runtimeEncryption';
import { readJobOutput } from './core/supervisors/outputTail';
import type { StorageNotice } from './shared/queuePanelProtocol';
import { testStorageFaults } from './vscode/testStorageFaults';
import { currentWorkspaceKey } from './vscode/workspaceKey';
import { TerminalAccess } from './vscode/terminalAccess';
import { WorkspaceSession } from './vscode/workspaceSession';

/** The queue as other extensions (and the integration tests) see it. */
export interface LifelineQueueApi {
  readonly role: SessionRole;
  readonly jobs: readonly Job[];
  getJob(id: string): Job | undefined;
  /**
   * Runs a command through the window that holds the queue; resolves once it is on disk. The audit
   * log names the caller as an extension, with `callerId` (your extension's id) when given.
   */
  execute(command: QueueCommand, options?: { callerId?: string }): Promise<CommandResult>;
  readonly onDidChange: vscode.Event<void>;
  /** The output log of the job's latest attempt. */
  outputLogPath(job: Job): string | undefined;
}

/** The job history as other extensions (and the integration tests) see it: read-only. */
export interface LifelineHistoryApi {
  /** The newest finished runs, newest first. */
  recent(limit?: number): readonly HistoryEntry[];
  /** Fires after each recorded job, and when the history opens or closes. */
  readonly onDidChange: vscode.Event<void>;
}

/** What `activate` returns: Lifeline's API for other extensions (and the integration tests). */
export interface LifelineApi {
  /** The version of this API's shape; src/api/lifeline.d.ts publishes it. */
  readonly apiVersion: 1;
  readonly version: string;
  /** Lifeline's folder for this workspace, or undefined when no folder is open. */
  readonly storageDirectory: string | undefined;
  readonly activationId: string;
  /** The queue once open; undefined with no folder, in Restricted Mode, or while opening. */
  readonly queue: LifelineQueueApi | undefined;
  /** Resolves when the queue is open (or never can be: then undefined). */
  whenQueueReady(): Promise<LifelineQueueApi | undefined>;
  /** Resolves when the history is open in this window (it is where the queue is held), else undefined. */
  whenHistoryReady(): Promise<LifelineHistoryApi | undefined>;
  /** Another extension's own durable, validated, migrated namespace of the workspace state (docs/state-api.md). */
  openState<T = unknown>(namespace: string, options?: StateNamespaceOptions<T>): Promise<ExtensionState<T>>;
  /** TEST ONLY: present only in the integration tests' host (LIFELINE_TEST_STORAGE_FAULTS, see testStorageFaults.ts). */
  readonly testing?: LifelineTestingApi;
}

/** TEST ONLY: a full disk for the disk-full integration test, and what the views show of it. */
export interface LifelineTestingApi {
  setDiskFull(full: boolean): void;
  readonly storageHealth: StorageHealth | undefined;
  readonly storageNotices: readonly StorageNotice[];
  /** What Lifeline's status bar item shows now (no API reads another extension's item). */
  readonly statusBar: StatusBarState;
  /**
   * Closes the queue as a reload would (the lease released, jobs left running) and opens it again
   * as the next activation would; with `forgetKey`, the encryption key is removed from the secret
   * storage between the two (a keychain that lost it). Resolves with whether it opened.
   */
  reopenQueue(options?: { forgetKey?: boolean }): Promise<boolean>;
  /** Why the queue is not open here, or undefined. */
  readonly unavailableReason: string | undefined;
}

let session: WorkspaceSession | undefined;
let statusBar: LifelineStatusBar | undefined;
let viewState: ViewStateFiles | undefined;
/** The queue opening in the background, which `deactivate` waits for. */
let pendingOpen: Promise<unknown> = Promise.resolve();
/** A close of the queue in flight (a hand-over to another window), which `deactivate` waits for too. */
let pendingClose: Promise<unknown> = Promise.resolve();
let deactivated = false;

export async function activate(context: vscode.ExtensionContext): Promise<LifelineApi> {
  deactivated = false;
  const { channel, logger } = createLogChannel();
  context.subscriptions.push(channel);
  const version = String(context.extension.packageJSON.version);
  const activationId = randomUUID();
  // The audit log's name for this window's commands, views and panels (docs/audit.md).
  const windowOrigin: AuditOrigin = {
    kind: 'window',
    id: activationId,
    label: `window ${vscode.env.sessionId.slice(0, 8)}, extension host ${process.pid}`,
  };

  let storageDirectory: string | undefined;
  let unavailable: string | undefined;
  const unavailableReason = (): string | undefined =>
    !vscode.workspace.isTrusted ? 'this workspace is in Restricted Mode, where Lifeline runs nothing. Trust it to run jobs.' : unavailable;
  const queueChanged = new vscode.EventEmitter<void>();
  context.subscriptions.push(queueChanged);
  const panelServices = { extensionUri: context.extensionUri, logger, viewState: () => viewState };
  // Serializers first: a restored panel must find its serializer as soon as activation starts.
  const queuePanel = registerQueuePanel(panelServices, {
    get queue() {
      return session?.queue;
    },
    get unavailableReason() {
      return unavailableReason();
    },
    onDidChangeQueue: queueChanged.event,
  });
  const historyPanel = registerHistoryPanel(panelServices, {
    get host() {
      return session?.history;
    },
    get unavailableReason() {
      return unavailableReason();
    },
    onDidChangeHost: queueChanged.event,
  });
  context.subscriptions.push(
    queuePanel,
    historyPanel,
    vscode.commands.registerCommand(CommandIds.showLog, () => channel.show(true)),
    vscode.commands.registerCommand(CommandIds.openQueuePanel, () => {
      queuePanel.show();
    }),
    vscode.commands.registerCommand(CommandIds.showHistory, () => {
      historyPanel.show();
    }),
    vscode.commands.registerCommand(CommandIds.retrySaving, () => session?.queue.retrySaving()),
    vscode.commands.registerCommand(CommandIds.showSavingStatus, () => showSavingStatus(session?.queue)),
    (statusBar = new LifelineStatusBar()),
    ...registerStorageHealth({
      runtime: () => session?.runtime,
      storageDirectory: () => storageDirectory,
      sqlWasmPath: vscode.Uri.joinPath(context.extensionUri, 'dist', 'sql-wasm.wasm').fsPath,
      logger,
    }),
  );

  const queueTree = new QueueTreeProvider({ notices: true });
  const recoveryTree = new QueueTreeProvider({ filter: (job) => job.state === 'interrupted' });
  const queueView = vscode.window.createTreeView('lifeline.queue', { treeDataProvider: queueTree, showCollapseAll: true });
  const recoveryView = vscode.window.createTreeView('lifeline.recovery', { treeDataProvider: recoveryTree });
  const queueStatus = new QueueStatusIndicator([queueView, recoveryView]);
  context.subscriptions.push(
    queueTree,
    recoveryTree,
    queueView,
    recoveryView,
    queueStatus,
    queueTree.onDidListRows((rows) => queueStatus.setListed(rows)),
  );

  const workspaceKey = currentWorkspaceKey();
  let terminalAccess: TerminalAccess | undefined;
  const folder = vscode.workspace.workspaceFolders?.[0];
  // Before any await: the key may still say `open` from an extension host that died.
  queueStatus.set(folder && vscode.workspace.isTrusted ? 'opening' : 'unavailable');
  if (workspaceKey === undefined || !folder) {
    unavailable = 'open a folder to queue jobs in it.';
    logger.info('[activate] no folder is open: Lifeline stays idle until one is.');
  } else {
    try {
      const directory = await openWorkspaceDirectory(context.globalStorageUri.fsPath, workspaceKey);
      storageDirectory = directory.path;
      viewState = new ViewStateFiles(join(directory.path, 'ui'), { logger });
      terminalAccess = new TerminalAccess({ context, storageDirectory, workspaceKey, folder, version, logger });
      void terminalAccess.update();
    } catch (error) {
      unavailable = `Lifeline cannot open its storage folder: ${(error as Error).message}`;
      queueStatus.set('unavailable');
      logger.error(`[activate] ${unavailable}`);
      void vscode.window.showErrorMessage(unavailable, 'Show Log').then((choice) => {
        if (choice) channel.show();
      });
    }
  }

  // Tabs an earlier extension host left (it crashed) are replaced from the view state read above.
  queuePanel.recoverTabs();
  historyPanel.recoverTabs();

  const keyStore = workspaceKey === undefined ? undefined : secretKeyStore(context.secrets, workspaceKey);
  let lockedFingerprint: string | undefined;
  let opening: Promise<WorkspaceSession | undefined> = Promise.resolve(undefined);
  let openStarted = false;
  /** Closes the open queue (the lease goes to whoever waits for it), so that openSession may open it again. */
  const closeSession = async (): Promise<void> => {
    const closing = session;
    session = undefined;
    statusBar?.attach(undefined);
    queueStatus.follow(undefined);
    // deactivate waits for it: the lease must be released before the extension host exits.
    pendingClose = closing?.close() ?? Promise.resolve();
    await pendingClose;
    openStarted = false;
  };
  // Another window that opens as a client asks whether this one is still there (windowHandOver.ts).
  const windowPresence: WindowPresence = {
    // A round trip to this window's renderer: it stays pending while the window is gone.
    answers: () => Promise.resolve(vscode.commands.getCommands(false)).then(() => undefined),
    handOver: () => {
      void (async () => {
        await closeSession();
        queueStatus.set('unavailable');
        unavailable = 'the queue was handed to another window of this workspace while this one did not answer';
        queueChanged.fire();
        // Should this window come back, it opens the queue again: a client of the one that took it.
        await windowPresence.answers();
        if (!deactivated && !session) void openSession();
      })();
    },
  };
  const openSession = (): Promise<WorkspaceSession | undefined> => {
    // Once per activation: trust granted while the queue opens must not open a second one.
    if (!storageDirectory || !folder || workspaceKey === undefined || openStarted) return opening;
    openStarted = true;
    queueStatus.set('opening');
    const dir = storageDirectory;
    opening = WorkspaceSession.open({
      storageDirectory: dir,
      workspaceKey,
      extensionUri: context.extensionUri,
      folder,
      logger,
      origin: windowOrigin,
      keyStore,
      shareOptions: (options) => terminalAccess?.shareOptions(options),
      windowPresence,
    }).then(
      async (opened) => {
        unavailable = undefined;
        lockedFingerprint = undefined;
        void vscode.commands.executeCommand('setContext', 'lifeline.encryptionLocked', false);
        // Deactivated while it opened: release the lease at once rather than hold it, unseen.
        if (deactivated) {
          await opened.close();
          return undefined;
        }
        session = opened;
        queueStatus.follow(opened.queue);
        statusBar?.attach(opened.queue);
        queueTree.attach(opened.queue);
        recoveryTree.attach(opened.queue);
        queueChanged.fire();
        return opened;
      },
      (error: unknown) => {
        queueStatus.set('unavailable');
        if (error instanceof EncryptionLockedError) {
          // Nothing was opened: the recovery key opens it (Enter Recovery Key…), in this activation.
          lockedFingerprint = error.keyFingerprint;
          openStarted = false;
          unavailable = `this workspace's data is encrypted and its key is not in this machine's keychain. Run "Lifeline: Enter Recovery Key…".`;
          void vscode.commands.executeCommand('setContext', 'lifeline.encryptionLocked', true);
          logger.warn(`[activate] ${error.message}`);
          void vscode.window.showWarningMessage(`Lifeline: ${error.message}`, 'Enter Recovery Key…').then((choice) => {
            if (choice) void vscode.commands.executeCommand(CommandIds.enterRecoveryKey);
          });
        } else {
          unavailable = `the queue could not be opened: ${(error as Error).message}`;
          reportOpenFailure(logger, channel, unavailable);
        }
        queueChanged.fire();
        return undefined;
      },
    );
    pendingOpen = opening;
    return opening;
  };

  context.subscriptions.push(
    ...registerJobCommands({
      queue: () => session?.queue,
      workspaceJobs: () => session?.jobs,
      unavailableReason,
      // The opening in progress (or the last one): commands given meanwhile wait for it.
      whenOpen: async () => (await opening)?.queue,
      estimateDuration: async (definition) => session?.history.estimateDuration(definition),
      logger,
    }),
    ...registerHistoryCommands(() => session?.history, unavailableReason, logger),
    ...registerMaintenanceCommands(() => session?.runtime, windowOrigin, unavailableReason, logger),
    ...registerBackupCommands(() => session?.runtime, unavailableReason, logger),
    ...registerEncryptionCommands({
      runtime: () => session?.runtime,
      unavailableReason,
      keyStore: () => keyStore,
      lockedFingerprint: () => lockedFingerprint,
      reopen: async () => (await openSession()) !== undefined,
      logger,
    }),
    registerJobOutputDocuments((path) => readJobOutput(path, session?.runtime.encryption.cipher)),
    ...registerChatTools({ session: () => session, unavailableReason, workspaceKey, logger }),
    ...registerMcpServer({ context, folder, workspaceKey, storageDirectory: () => storageDirectory, logger }),
    // Trust is granted without a reload (and never revoked without one): start running then.
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      void terminalAccess?.update();
      void openSession();
    }),
    { dispose: () => void session?.close() },
  );

  // Not awaited: activation finishes at once, and the queue opens (takes the lease, adopts
  // running supervisors) in the background. Commands wait for it through `unavailableReason`.
  if (vscode.workspace.isTrusted) void openSession();

  logger.info(
    `[activate] Lifeline ${version} active (activation ${activationId}, workspace ${workspaceKey ?? 'none'}, ` +
      `${vscode.workspace.isTrusted ? 'trusted' : 'untrusted: nothing runs'}, storage ${storageDirectory ?? 'none'})`,
  );
  return {
    apiVersion: 1,
    version,
    storageDirectory,
    activationId,
    get queue() {
      return session ? queueApi(session) : undefined;
    },
    whenQueueReady: async () => {
      const opened = await opening;
      return opened ? queueApi(opened) : undefined;
    },
    testing: testingApi({
      unavailableReason,
      reopen: async (forgetKey) => {
        await closeSession();
        if (forgetKey) await keyStore?.deleteKey();
        return (await openSession()) !== undefined;
      },
    }),
    whenHistoryReady: async () => {
      const opened = await opening;
      const history = await opened?.history.whenOpen();
      if (!opened || !history) return undefined;
      return {
        // The history open now: a restore or a takeover reopens it, and an old handle is closed.
        recent: (limit = 50) => (opened.history.history ?? history).page({ sort: 'finishedAt', direction: 'desc', limit }).entries,
        onDidChange: opened.history.onDidChange,
      };
    },
    openState: async (namespace, options) => {
      const opened = await opening;
      if (!opened) {
        throw new StateError(
          'unavailable',
          `Lifeline's workspace state is not available: ${unavailableReason() ?? 'the queue is not open'}`,
        );
      }
      return opened.runtime.openState(namespace, options);
    },
  };
}

function testingApi(hooks: {
  unavailableReason: () => string | undefined;
  reopen: (forgetKey: boolean) => Promise<boolean>;
}): LifelineTestingApi | undefined {
  const faults = testStorageFaults();
  if (!faults) return undefined;
  return {
    reopenQueue: (options) => hooks.reopen(options?.forgetKey ?? false),
    get unavailableReason() {
      return hooks.unavailableReason();
    },
    setDiskFull: (full) => faults.setDiskFull(full),
    get storageHealth() {
      return session?.queue.storageHealth;
    },
    get storageNotices() {
      return session?.queue.storageNotices ?? [];
    },
    get statusBar() {
      return (
        statusBar?.state ?? { visible: false, text: '', tooltip: '', accessibleLabel: '', backgroundColor: undefined, command: undefined }
      );
    },
  };
}

function queueApi(opened: WorkspaceSession): LifelineQueueApi {
  const queue = opened.queue;
  return {
    get role() {
      return queue.role;
    },
    get jobs() {
      return queue.jobs;
    },
    getJob: (id) => queue.getJob(id),
    execute: (command, options) => queue.execute(command, { kind: 'extension', id: options?.callerId, label: 'extension API' }),
    onDidChange: queue.onDidChange,
    outputLogPath: (job) => queue.outputLogPath(job),
  };
}

function reportOpenFailure(logger: Logger, channel: vscode.LogOutputChannel, message: string): void {
  logger.error(`[activate] ${message}`);
  void vscode.window.showErrorMessage(`Lifeline: ${message}`, 'Show Log').then((choice) => {
    if (choice) channel.show();
  });
}

/**
 * Releases the queue's lease so that another window takes over at once. Running jobs stay with
 * their supervisors, which the next holder adopts. VS Code waits for the returned promise.
 */
export async function deactivate(): Promise<void> {
  deactivated = true;
  // An open in flight closes itself when it finishes (see openSession).
  await pendingOpen.catch(() => undefined);
  const closing = session;
  session = undefined;
  statusBar?.attach(undefined);
  await Promise.all([closing?.close(), pendingClose.catch(() => undefined), viewState?.flush()]);
}
