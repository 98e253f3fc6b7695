import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { runsDir } from './paths';
import { testHost, testHostEnv } from './testHost';

/**
 * Starts a real VS Code (the code-server of the test host this process runs on, see
 * test/host/testHost.ts) the way docs/platform.md (the test hosts) describes: in its own session
 * (so the whole tree, extension host included, stops with one kill), with TMPDIR and XDG_*
 * pointed at a scratch folder, stdio to a file (a detached child that inherits the test runner's
 * pipes keeps CI waiting), and the settings that keep focus on the workbench.
 */
export interface CodeServerOptions {
  /** A folder for this server's user data, extensions, scratch and log. Reuse it to restart. */
  readonly home: string;
  readonly port?: number;
  /** Workspace trust enabled (Restricted Mode for a new folder) instead of disabled. */
  readonly workspaceTrust?: boolean;
  readonly extraSettings?: Record<string, unknown>;
  /** Extra environment for the server, which its extension host inherits. */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Leave a settings.json the user data already has as it is (npm start, whose user data is the
   * developer's to change) instead of writing the test settings over it. @default false
   */
  readonly keepUserSettings?: boolean;
}

/** Why a code-server could not be started: `portInUse` names the port, so the caller can suggest another. */
export class CodeServerStartError extends Error {
  constructor(
    readonly reason: 'portInUse' | 'exited' | 'noAnswer',
    message: string,
  ) {
    super(message);
    this.name = 'CodeServerStartError';
  }
}

export interface CodeServer {
  readonly port: number;
  readonly pid: number;
  readonly home: string;
  readonly userDataDir: string;
  readonly extensionsDir: string;
  readonly logFile: string;
  stop(): Promise<void>;
}

const running = new Set<CodeServer>();

export function newRunHome(label: string): string {
  mkdirSync(runsDir, { recursive: true });
  return mkdtempSync(join(runsDir, `${label}-`));
}

const runtimeDirs = new Map<string, string>();

/**
 * Scratch folders for code-server and Chromium, which otherwise leave sockets and configs in /tmp
 * and HOME. The runtime folder holds Unix sockets, whose paths Node cuts at 107 bytes, so it sits
 * in a short private folder under the OS temp folder rather than in the (long) run folder.
 */
export function scratchEnv(home: string): NodeJS.ProcessEnv {
  const scratch = join(home, 'scratch');
  for (const sub of ['tmp', 'config', 'data', 'cache']) mkdirSync(join(scratch, sub), { recursive: true, mode: 0o700 });
  let runtime = runtimeDirs.get(home);
  if (!runtime) {
    runtime = mkdtempSync(join(tmpdir(), 'llrt-'));
    chmodSync(runtime, 0o700);
    runtimeDirs.set(home, runtime);
  }
  return {
    ...process.env,
    TMPDIR: join(scratch, 'tmp'),
    XDG_CONFIG_HOME: join(scratch, 'config'),
    XDG_DATA_HOME: join(scratch, 'data'),
    XDG_CACHE_HOME: join(scratch, 'cache'),
    XDG_RUNTIME_DIR: runtime,
  };
}

/** Whether nothing listens on 127.0.0.1:`port` (binding it succeeds). */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Writes the test settings, unless `keepExisting` and the user data already has a settings.json. */
export function prepareUserSettings(userDataDir: string, extra?: Record<string, unknown>, keepExisting = false): void {
  if (keepExisting && existsSync(join(userDataDir, 'User', 'settings.json'))) return;
  writeUserSettings(userDataDir, extra);
}

export function writeUserSettings(userDataDir: string, extra: Record<string, unknown> = {}): void {
  mkdirSync(join(userDataDir, 'User'), { recursive: true });
  writeFileSync(
    join(userDataDir, 'User', 'settings.json'),
    JSON.stringify(
      {
        'workbench.startupEditor': 'none',
        'workbench.welcomePage.walkthroughs.openOnInstall': false,
        'workbench.tips.enabled': false,
        'git.openRepositoryInParentFolders': 'never',
        'security.workspace.trust.startupPrompt': 'never',
        'extensions.autoUpdate': false,
        'extensions.autoCheckUpdates': false,
        'telemetry.telemetryLevel': 'off',
        ...extra,
      },
      null,
      2,
    ),
  );
}

export async function startCodeServer(options: CodeServerOptions): Promise<CodeServer> {
  const port = options.port ?? (await freePort());
  // Another server on the port would answer the health check below in place of ours (which quits
  // with EADDRINUSE): make sure the port is free before starting.
  if (!(await portIsFree(port))) throw new CodeServerStartError('portInUse', `port ${port} on 127.0.0.1 is already in use`);
  const userDataDir = join(options.home, 'user-data');
  const extensionsDir = join(options.home, 'extensions');
  mkdirSync(extensionsDir, { recursive: true });
  prepareUserSettings(userDataDir, options.extraSettings, options.keepUserSettings);
  const logFile = join(options.home, 'code-server.log');
  const out = openSync(logFile, 'a');
  const args = [
    '--bind-addr',
    `127.0.0.1:${port}`,
    '--auth',
    'none',
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-getting-started-override',
    '--user-data-dir',
    userDataDir,
    '--extensions-dir',
    extensionsDir,
  ];
  if (!options.workspaceTrust) args.push('--disable-workspace-trust');
  const host = testHost();
  const child = spawn(host.node, [host.entry, ...args], {
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...scratchEnv(options.home), ...testHostEnv(host), ...options.env },
  });
  closeSync(out);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error('code-server did not start');
  let exited = false;
  child.once('exit', () => (exited = true));
  const server: CodeServer = {
    port,
    pid,
    home: options.home,
    userDataDir,
    extensionsDir,
    logFile,
    stop: async () => {
      running.delete(server);
      await killGroup(pid, () => exited);
      const runtime = runtimeDirs.get(options.home);
      if (runtime) rmSync(runtime, { recursive: true, force: true });
      runtimeDirs.delete(options.home);
    },
  };
  running.add(server);
  await waitForHttp(`http://127.0.0.1:${port}/healthz`, 60_000, () => exited, logFile);
  return server;
}

async function killGroup(pid: number, hasExited: () => boolean): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
      return true;
    } catch {
      return false;
    }
  };
  if (!signal('SIGTERM')) return;
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    if (!groupAlive(pid) && hasExited()) return;
    await delay(100);
  }
  signal('SIGKILL');
}

export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Polls `url` until it answers OK. Each request has its own timeout: something that accepts the
 * connection and never answers must not hold the wait past its deadline.
 */
export async function waitForHttp(
  url: string,
  timeoutMs: number,
  hasExited: () => boolean,
  logFile: string,
  requestTimeoutMs = 2_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (hasExited()) throw new CodeServerStartError('exited', `code-server exited before it served ${url}; see ${logFile}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(Math.max(1, Math.min(requestTimeoutMs, deadline - Date.now()))) });
      // Ours, still running: a server that quit after another began to answer would be no good.
      if (response.ok && !hasExited()) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${requestTimeoutMs} ms` : 'not listening';
    }
    await delay(200);
  }
  throw new CodeServerStartError('noAnswer', `code-server did not serve ${url} within ${timeoutMs} ms (last: ${last}); see ${logFile}`);
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Installs a .vsix into a run folder's extensions with the test host's `code-server --install-extension`. */
export function installVsix(home: string, vsix: string): void {
  const host = testHost();
  execFileSync(
    host.node,
    [host.entry, '--install-extension', vsix, '--extensions-dir', join(home, 'extensions'), '--user-data-dir', join(home, 'user-data')],
    { env: scratchEnv(home), stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

/** Stops every server this process started; the global teardown of every tier that uses one. */
export async function stopAllCodeServers(): Promise<void> {
  await Promise.all([...running].map((server) => server.stop()));
  // Runtime folders made for a browser or a server started by another process (npm start).
  for (const runtime of runtimeDirs.values()) rmSync(runtime, { recursive: true, force: true });
  runtimeDirs.clear();
}

/** The workbench URL for a folder, optionally with the test-web `payload` (extension under development, tests). */
export function workbenchUrl(server: CodeServer, folder: string, payload?: readonly (readonly [string, string])[]): string {
  let url = `http://127.0.0.1:${server.port}/?folder=${encodeURIComponent(folder)}`;
  if (payload) url += `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
  return url;
}

export function remoteUri(server: CodeServer, path: string): string {
  return `vscode-remote://127.0.0.1:${server.port}${path}`;
}

/**
 * Pids of the server's extension hosts: `…/bootstrap-fork --type=extensionHost` processes in the
 * server's process group (the server was started in a session of its own).
 */
export function extensionHostPids(server: CodeServer): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      if (!cmdline.includes('bootstrap-fork') || !cmdline.includes('--type=extensionHost')) continue;
      // Field 5 of /proc/<pid>/stat is the process group; the command name (field 2) may hold spaces.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const pgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (pgid === server.pid) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}
