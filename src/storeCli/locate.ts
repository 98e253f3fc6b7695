import { promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve, win32 } from 'node:path';
import { workspaceDirectoryName } from '../core/storage/workspaceDirectory';
import { CliError } from './cliErrors';

/** `<publisher>.<name>` of the extension: the name of its folder under each globalStorage. */
export const EXTENSION_ID = 'lifeline.lifeline';

/** Sub-folders of a storage folder that only Lifeline writes: one of them (or the manifest) marks the folder as ours. */
const MARKERS = ['manifest.json', 'queue', 'history', 'queue.lease'];

export interface Located {
  readonly directory: string;
  /** The workspace the folder's manifest names, when it has one. */
  readonly workspaceKey: string | undefined;
}

/**
 * The workspace keys the extension may have derived from a folder or a .code-workspace file
 * (src/vscode/workspaceKey.ts): `file:` and the URI's path. On Windows that path is `/c:/...`;
 * the drive letter's case depends on how VS Code was given the folder, so both are tried.
 */
export function workspaceKeysOf(path: string, platform = process.platform): string[] {
  if (platform !== 'win32') return [`file:${resolve(path)}`];
  const slashed = win32.resolve(path).replace(/\\/g, '/');
  if (!/^[A-Za-z]:/.test(slashed)) return [`file:${slashed}`];
  const rest = slashed.slice(1);
  return [...new Set([`file:/${slashed[0]?.toLowerCase()}${rest}`, `file:/${slashed[0]?.toUpperCase()}${rest}`])];
}

/**
 * Where VS Code, VS Code Insiders, VSCodium, a VS Code server and code-server keep the
 * extension's global storage by default, or under `--user-data-dir DIR` (as the editor's own flag).
 */
export function globalStorageCandidates(userDataDir: string | undefined, env = process.env, platform = process.platform): string[] {
  if (userDataDir !== undefined) return [join(resolve(userDataDir), 'User', 'globalStorage', EXTENSION_ID)];
  const home = env.HOME || env.USERPROFILE || homedir();
  const roots: string[] = [];
  if (platform === 'win32') {
    const appData = env.APPDATA || join(home, 'AppData', 'Roaming');
    roots.push(join(appData, 'Code'), join(appData, 'Code - Insiders'), join(appData, 'VSCodium'));
  } else if (platform === 'darwin') {
    const support = join(home, 'Library', 'Application Support');
    roots.push(join(support, 'Code'), join(support, 'Code - Insiders'), join(support, 'VSCodium'));
  } else {
    const config = env.XDG_CONFIG_HOME || join(home, '.config');
    roots.push(join(config, 'Code'), join(config, 'Code - Insiders'), join(config, 'VSCodium'));
  }
  roots.push(join(home, '.vscode-server', 'data'), join(env.XDG_DATA_HOME || join(home, '.local', 'share'), 'code-server'));
  return roots.map((root) => join(root, 'User', 'globalStorage', EXTENSION_ID));
}

async function isDirectory(path: string): Promise<boolean> {
  return fs.stat(path).then(
    (stat) => stat.isDirectory(),
    () => false,
  );
}

/** The workspace key in a storage folder's manifest.json; undefined when it has none or it cannot be read. */
async function manifestKey(directory: string): Promise<string | undefined> {
  try {
    const parsed = JSON.parse(await fs.readFile(join(directory, 'manifest.json'), 'utf8')) as { workspaceKey?: unknown };
    return typeof parsed.workspaceKey === 'string' ? parsed.workspaceKey : undefined;
  } catch {
    return undefined;
  }
}

/** `--dir DIR`: a storage folder given directly; it must exist and be Lifeline's. */
export async function locateDirectory(dir: string): Promise<Located> {
  const directory = resolve(dir);
  if (!(await isDirectory(directory))) throw new CliError('notFound', `${directory} does not exist or is not a folder.`);
  const entries = new Set(await fs.readdir(directory));
  if (!MARKERS.some((marker) => entries.has(marker))) {
    throw new CliError(
      'notLifeline',
      `${directory} is not a Lifeline storage folder (it has none of ${MARKERS.join(', ')}). Give the folder under <globalStorage>/${EXTENSION_ID}/workspaces/, or use --workspace.`,
    );
  }
  return { directory, workspaceKey: await manifestKey(directory) };
}

/** `--workspace PATH`: the storage folder of that workspace under the editors' global storage. */
export async function locateWorkspace(workspace: string, userDataDir: string | undefined): Promise<Located> {
  const path = resolve(workspace);
  if (
    !(await fs.stat(path).then(
      () => true,
      () => false,
    ))
  ) {
    throw new CliError('notFound', `The workspace ${path} does not exist.`);
  }
  const keys = workspaceKeysOf(path);
  const key = keys[0] as string;
  const searched = globalStorageCandidates(userDataDir);
  const found: { directory: string; key: string }[] = [];
  for (const root of searched) {
    for (const candidate of keys) {
      const directory = join(root, 'workspaces', workspaceDirectoryName(candidate));
      if (await isDirectory(directory)) found.push({ directory, key: candidate });
    }
  }
  if (found.length === 0) {
    throw new CliError(
      'notFound',
      `No Lifeline storage folder for ${key}. Looked in:\n  ${searched.join('\n  ')}\nGive the editor's --user-data-dir, or the folder itself with --dir.`,
    );
  }
  if (found.length > 1) {
    const list = found.map((entry) => entry.directory).join('\n  ');
    throw new CliError('usage', `${key} has a storage folder under several editors; choose one with --dir:\n  ${list}`);
  }
  const { directory, key: matched } = found[0] as { directory: string; key: string };
  const named = await manifestKey(directory);
  if (named !== undefined && named !== matched) {
    throw new CliError('notLifeline', `The storage folder ${directory} belongs to ${named}, not ${matched}.`);
  }
  return { directory, workspaceKey: matched };
}
