import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { z } from 'zod';
import type { Logger } from '../core/logger';

/**
 * The page of a Lifeline webview: its bundle and stylesheet from dist/webviews, codicons, and a
 * Content Security Policy that allows nothing else (scripts only with this page's nonce).
 */
export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, name: string, title: string): string {
  const nonce = randomBytes(16).toString('base64');
  const dist = vscode.Uri.joinPath(extensionUri, 'dist');
  const script = webview.asWebviewUri(vscode.Uri.joinPath(dist, 'webviews', `${name}.js`));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(dist, 'webviews', `${name}.css`));
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
<title>${title}</title>
</head>
<body>
<div id="app" aria-busy="true"></div>
<script nonce="${nonce}" src="${script.toString()}"></script>
</body>
</html>`;
}

/** Options of every Lifeline webview: scripts on, resources only from dist/. */
export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions & vscode.WebviewPanelOptions {
  return {
    enableScripts: true,
    enableCommandUris: false,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist')],
  };
}

/**
 * Brings a single-instance panel back after a reload: its saved view state is validated (an
 * invalid one is logged and replaced by the panel's default), a second restored tab is closed.
 */
export function registerPanelSerializer<S>(options: {
  readonly viewType: string;
  readonly schema: z.ZodType<S>;
  readonly extensionUri: vscode.Uri;
  readonly logger: Logger;
  readonly isOpen: () => boolean;
  readonly restore: (panel: vscode.WebviewPanel, state: S | undefined) => void;
}): vscode.Disposable {
  return vscode.window.registerWebviewPanelSerializer(options.viewType, {
    async deserializeWebviewPanel(panel: vscode.WebviewPanel, rawState: unknown) {
      const parsed = options.schema.safeParse(rawState);
      if (!parsed.success && rawState !== undefined) options.logger.warn(`[${options.viewType}] saved panel state was not valid, starting fresh: ${parsed.error.message}`);
      if (options.isOpen()) {
        // VS Code can hand back a panel while another is live (two restored tabs): keep one.
        panel.dispose();
        return;
      }
      panel.webview.options = webviewOptions(options.extensionUri);
      options.restore(panel, parsed.success ? parsed.data : undefined);
    },
  });
}
