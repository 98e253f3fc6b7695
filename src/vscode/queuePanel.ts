import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { Logger } from '../core/logger';
import type { InitNotification, QueuePanelState } from '../shared/queuePanelProtocol';
import { defaultQueuePanelState, queuePanelViewType } from '../shared/queuePanelProtocol';
import { queuePanelCommandSchema, queuePanelStateSchema } from '../shared/queuePanelSchemas';

/**
 * The Queue dashboard: one webview panel, restored after a reload by its serializer from the
 * small view state the webview saves with setState (STYLE.md rule 6).
 */
export class QueuePanel implements vscode.Disposable {
  private static current: QueuePanel | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private state: QueuePanelState;

  static show(extensionUri: vscode.Uri, logger: Logger): QueuePanel {
    if (QueuePanel.current) {
      QueuePanel.current.panel.reveal();
      return QueuePanel.current;
    }
    const panel = vscode.window.createWebviewPanel(queuePanelViewType, 'Lifeline Queue', vscode.ViewColumn.Active, panelOptions(extensionUri));
    return new QueuePanel(panel, extensionUri, logger, defaultQueuePanelState);
  }

  /** Registers the serializer that brings the panel back after a reload. */
  static registerSerializer(extensionUri: vscode.Uri, logger: Logger): vscode.Disposable {
    return vscode.window.registerWebviewPanelSerializer(queuePanelViewType, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, rawState: unknown) {
        const parsed = queuePanelStateSchema.safeParse(rawState);
        if (!parsed.success) logger.warn(`[queuePanel] saved panel state was not valid, starting fresh: ${parsed.error.message}`);
        if (QueuePanel.current) {
          // VS Code can hand back a panel while another is live (two restored tabs): keep one.
          panel.dispose();
          return;
        }
        panel.webview.options = panelOptions(extensionUri);
        new QueuePanel(panel, extensionUri, logger, parsed.success ? parsed.data : defaultQueuePanelState);
      },
    });
  }

  private constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly extensionUri: vscode.Uri,
    private readonly logger: Logger,
    initialState: QueuePanelState,
  ) {
    QueuePanel.current = this;
    this.state = initialState;
    panel.webview.html = this.renderHtml(panel.webview);
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((message: unknown) => this.onMessage(message)),
      // Trust can be granted while the panel is open (never revoked without a reload).
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.postInit()),
    );
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
        this.postInit();
        break;
      case 'stateChanged':
        this.state = message.state;
        break;
      case 'showLog':
        void vscode.commands.executeCommand('lifeline.showLog');
        break;
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
    const nonce = randomBytes(16).toString('base64');
    const dist = vscode.Uri.joinPath(this.extensionUri, 'dist');
    const script = webview.asWebviewUri(vscode.Uri.joinPath(dist, 'webviews', 'queuePanel.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(dist, 'webviews', 'queuePanel.css'));
    const codicons = webview.asWebviewUri(vscode.Uri.joinPath(dist, 'codicons', 'codicon.css'));
    const csp = [
      "default-src 'none'",
      `style-src ${webview.cspSource}`,
      `font-src ${webview.cspSource}`,
      `img-src ${webview.cspSource}`,
      `script-src 'nonce-${nonce}'`,
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${codicons.toString()}">
<link rel="stylesheet" href="${style.toString()}">
<title>Lifeline Queue</title>
</head>
<body>
<div id="app" aria-busy="true"></div>
<script nonce="${nonce}" src="${script.toString()}"></script>
</body>
</html>`;
  }

  private disposed = false;

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (QueuePanel.current === this) QueuePanel.current = undefined;
    this.panel.dispose();
    while (this.disposables.length) this.disposables.pop()?.dispose();
  }

  static disposeCurrent(): void {
    QueuePanel.current?.dispose();
  }

  static get currentPanel(): QueuePanel | undefined {
    return QueuePanel.current;
  }
}

function panelOptions(extensionUri: vscode.Uri): vscode.WebviewOptions & vscode.WebviewPanelOptions {
  return {
    enableScripts: true,
    enableCommandUris: false,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist')],
  };
}
