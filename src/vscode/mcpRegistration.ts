import * as vscode from 'vscode';
import { TERMINAL_ENV } from '../cli/cliTarget';
import type { Logger } from '../core/logger';
import { testStorageFaults } from './testStorageFaults';

/** The provider's id, as package.json's `contributes.mcpServerDefinitionProviders` declares it. */
export const MCP_PROVIDER_ID = 'lifeline';

/** TEST ONLY (registered in the integration tests' host): what the provider handed VS Code. */
export const MCP_TESTING_COMMAND = 'lifeline.testing.mcpServerDefinitions';

/**
 * The few shapes of the MCP API (VS Code 1.101) Lifeline uses. The project builds against the
 * 1.100 types (the oldest VS Code it supports), so they are declared here and looked up at run
 * time: on 1.100 the function is absent, or a proposal that throws when called.
 */
interface McpStdioServerDefinition {
  readonly label: string;
  command: string;
  args: string[];
  env: Record<string, string | number | null>;
  version?: string;
  cwd?: vscode.Uri;
}
type McpStdioServerDefinitionClass = new (
  label: string,
  command: string,
  args?: string[],
  env?: Record<string, string | number | null>,
  version?: string,
) => McpStdioServerDefinition;
interface McpServerDefinitionProvider {
  readonly onDidChangeMcpServerDefinitions?: vscode.Event<void>;
  provideMcpServerDefinitions(token: vscode.CancellationToken): vscode.ProviderResult<McpStdioServerDefinition[]>;
}
interface McpApi {
  registerMcpServerDefinitionProvider?(id: string, provider: McpServerDefinitionProvider): vscode.Disposable;
}

/** What the server definition is made of; plain data, so the tests can compare it. */
export interface McpServerLaunch {
  readonly label: string;
  readonly command: string;
  readonly args: string[];
  readonly env: Record<string, string>;
  readonly version: string;
  readonly cwd: string;
}

export interface McpRegistrationOptions {
  readonly context: Pick<vscode.ExtensionContext, 'extensionUri' | 'globalStorageUri' | 'extension'>;
  /** The folder Lifeline runs on (the first), its workspace key and storage folder (once open). */
  readonly folder: vscode.WorkspaceFolder | undefined;
  readonly workspaceKey: string | undefined;
  readonly storageDirectory: () => string | undefined;
  readonly logger: Logger;
}

/**
 * `lifeline mcp` for the workspace, launched with the extension host's own runtime: in VS Code
 * desktop that is Electron, which ELECTRON_RUN_AS_NODE turns into Node; in code-server it is Node
 * already (and ignores the variable). The LIFELINE_* variables name the workspace exactly as an
 * integrated terminal's do (src/cli/cliTarget.ts), so the server finds the window's queue.
 */
export function mcpServerLaunch(options: McpRegistrationOptions): McpServerLaunch | undefined {
  const storageDirectory = options.storageDirectory();
  if (!options.folder || options.workspaceKey === undefined || !storageDirectory || !vscode.workspace.isTrusted) return undefined;
  const { context } = options;
  const folder = options.folder.uri.fsPath;
  return {
    label: (vscode.workspace.workspaceFolders?.length ?? 0) > 1 ? `Lifeline (${options.folder.name})` : 'Lifeline',
    command: process.execPath,
    args: [vscode.Uri.joinPath(context.extensionUri, 'dist', 'lifeline.js').fsPath, 'mcp', '--workspace', folder],
    env: {
      ELECTRON_RUN_AS_NODE: '1',
      [TERMINAL_ENV.storage]: storageDirectory,
      [TERMINAL_ENV.folder]: folder,
      [TERMINAL_ENV.key]: options.workspaceKey,
      [TERMINAL_ENV.globalStorage]: context.globalStorageUri.fsPath,
    },
    version: String(context.extension.packageJSON.version),
    cwd: folder,
  };
}

/**
 * Whether this VS Code has the public API (1.101 and later). 1.100 has the function too, as a
 * proposal: calling it there throws, and the failed call unsettled the workbench in the
 * integration tests (a panel shown next lost its editor column), so it is not called at all.
 */
export function offersMcpRegistration(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map((part) => Number.parseInt(part, 10));
  return major > 1 || (major === 1 && minor >= 101);
}

/**
 * Registers Lifeline's MCP server with VS Code's agent mode where the running VS Code can (1.101
 * and later), so agents find it without a `.vscode/mcp.json`. Not in Restricted Mode: the
 * provider offers nothing there, and tells VS Code to ask again when trust is granted.
 */
export function registerMcpServer(options: McpRegistrationOptions): vscode.Disposable[] {
  const disposables: vscode.Disposable[] = [];
  const lm = vscode.lm as unknown as McpApi;
  const Definition = (vscode as unknown as { McpStdioServerDefinition?: McpStdioServerDefinitionClass }).McpStdioServerDefinition;
  let provided: McpServerLaunch[] | undefined;
  let registered = false;
  let failure: string | undefined;
  if (
    !offersMcpRegistration(vscode.version) ||
    typeof lm.registerMcpServerDefinitionProvider !== 'function' ||
    typeof Definition !== 'function'
  ) {
    failure = `VS Code ${vscode.version} has no vscode.lm.registerMcpServerDefinitionProvider (1.101 and later)`;
  } else {
    const changed = new vscode.EventEmitter<void>();
    const provider: McpServerDefinitionProvider = {
      onDidChangeMcpServerDefinitions: changed.event,
      provideMcpServerDefinitions: () => {
        const launch = mcpServerLaunch(options);
        provided = launch ? [launch] : [];
        return provided.map((server) => {
          const definition = new Definition(server.label, server.command, server.args, server.env, server.version);
          definition.cwd = vscode.Uri.file(server.cwd);
          return definition;
        });
      },
    };
    try {
      disposables.push(
        lm.registerMcpServerDefinitionProvider(MCP_PROVIDER_ID, provider),
        changed,
        vscode.workspace.onDidGrantWorkspaceTrust(() => changed.fire()),
      );
      registered = true;
    } catch (error) {
      // 1.100 has the function as a proposal that only extensions enabling it may call.
      changed.dispose();
      failure = `VS Code ${vscode.version} refused the MCP server registration: ${(error as Error).message}`;
    }
  }
  if (failure) options.logger.info(`[mcp] ${failure}; add the server to .vscode/mcp.json instead (docs/chat-tools.md).`);
  if (testStorageFaults()) {
    disposables.push(vscode.commands.registerCommand(MCP_TESTING_COMMAND, () => ({ registered, failure, provided })));
  }
  return disposables;
}
