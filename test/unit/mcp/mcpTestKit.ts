import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { writeTrustRecord } from '../../../src/core/control/workspaceTrust';
import { openWorkspaceDirectory } from '../../../src/core/storage/workspaceDirectory';
import { killSupervisorsOf } from '../supervisors/supervisorTestKit';

/** The built command, as `npm run build` writes it: the tests run the bundle, as an MCP client would. */
export const lifelinePath = join(__dirname, '..', '..', '..', '..', 'dist', 'lifeline.js');
/** The agent process of the survival tests (agentProcess.ts beside this file, compiled). */
export const agentPath = join(__dirname, 'agentProcess.js');

export interface McpFolders {
  readonly root: string;
  readonly userDataDir: string;
  readonly workspace: string;
  /** The workspace's storage folder. */
  readonly storage: string;
}

/** `lifeline mcp` for the folders, as a stdio server's command line. */
export function serverCommand(folders: McpFolders): { command: string; args: string[]; env: Record<string, string> } {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !key.startsWith('LIFELINE_')) env[key] = value;
  return {
    command: process.execPath,
    args: [lifelinePath, 'mcp', '--workspace', folders.workspace, '--user-data-dir', folders.userDataDir],
    env,
  };
}

/** A connected SDK client with its server's stderr (for failure messages) and pid. */
export interface Connection {
  readonly client: Client;
  readonly transport: StdioClientTransport;
  stderr(): string;
  /** Calls a tool; a protocol error rejects. */
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
}

export interface McpKit {
  folders(): McpFolders;
  connect(name?: string): Promise<Connection>;
  /** A child process the kit kills (SIGKILL) after the test. */
  adopt(child: ChildProcess): void;
}

/**
 * A workspace with its storage folder under a test user-data-dir (as code-server's
 * `--user-data-dir`) and, unless `trust` says otherwise, the trust record VS Code leaves; every
 * client, server and supervisor a test starts is stopped after it.
 */
export function useMcpKit(trust: 'trusted' | 'untrusted' | 'none' = 'trusted'): McpKit {
  let folders: McpFolders | undefined;
  const connections: Connection[] = [];
  const children: ChildProcess[] = [];
  beforeEach(async () => {
    const root = mkdtempSync(join(tmpdir(), 'lifeline-mcp-test-'));
    const userDataDir = join(root, 'user-data');
    const workspace = join(root, 'workspace');
    mkdirSync(workspace, { recursive: true });
    const directory = await openWorkspaceDirectory(join(userDataDir, 'User', 'globalStorage', 'lifeline.lifeline'), `file:${workspace}`);
    if (trust !== 'none') await writeTrustRecord(directory.path, trust === 'trusted');
    folders = { root, userDataDir, workspace, storage: directory.path };
  });
  afterEach(async () => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
    await Promise.all(connections.splice(0).map((connection) => connection.client.close().catch(() => undefined)));
    if (folders) {
      killSupervisorsOf(join(folders.storage, 'jobs'));
      rmSync(folders.root, { recursive: true, force: true });
    }
  });
  const current = (): McpFolders => {
    if (!folders) throw new Error('the folders exist only inside a test');
    return folders;
  };
  return {
    folders: current,
    adopt: (child) => void children.push(child),
    async connect(name = 'lifeline-mcp-test') {
      const transport = new StdioClientTransport({ ...serverCommand(current()), stderr: 'pipe' });
      let stderr = '';
      transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const client = new Client({ name, version: '1.0.0' });
      await client.connect(transport);
      const connection: Connection = {
        client,
        transport,
        stderr: () => stderr,
        call: (tool, args = {}) =>
          client.callTool({ name: tool, arguments: args }, undefined, { timeout: 120_000 }) as Promise<CallToolResult>,
      };
      connections.push(connection);
      return connection;
    },
  };
}

/** The text of a tool result (all its text blocks). */
export function textOf(result: CallToolResult): string {
  return result.content
    .filter((block) => block.type === 'text')
    .map((block) => (block as { text: string }).text)
    .join('\n');
}

/** Starts `node agentProcess.js` and resolves with its first line: what it did and its server's pid. */
export function startAgent(
  folders: McpFolders,
  request: { tool: string; arguments: Record<string, unknown>; asTask?: boolean },
): Promise<{ child: ChildProcess; line: { serverPid: number; result: unknown } }> {
  const child = spawn(process.execPath, [agentPath, JSON.stringify({ server: serverCommand(folders), request })], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const end = out.indexOf('\n');
      if (end >= 0) resolve({ child, line: JSON.parse(out.slice(0, end)) as { serverPid: number; result: unknown } });
    });
    child.once('exit', (code) => reject(new Error(`the agent exited (${code}) before answering:\n${err}`)));
  });
}
