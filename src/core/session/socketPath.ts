import { createHash } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobError } from '../queue/jobErrors';

/**
 * Node silently truncates a Unix socket path past 107 bytes (103 on macOS), so two long storage
 * paths could meet at one socket (docs/platform.md). The socket therefore lives in a short
 * private folder, named by a hash of the storage directory, and its length is checked.
 */
export const MAX_SOCKET_PATH_BYTES = 103;

/** `$XDG_RUNTIME_DIR`, or `<tmp>/lifeline-<uid>` created with mode 0700 and checked to be ours. */
export function socketDirectory(env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime && isPrivateDirectory(runtime)) return runtime;
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  const dir = join(tmpdir(), `lifeline-${uid}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!isPrivateDirectory(dir)) {
    throw new JobError('notConnected', `The socket folder ${dir} is not private to this user (owner and mode 0700).`);
  }
  return dir;
}

function isPrivateDirectory(dir: string): boolean {
  try {
    const stat = statSync(dir);
    const uid = typeof process.getuid === 'function' ? process.getuid() : stat.uid;
    return stat.isDirectory() && stat.uid === uid && (stat.mode & 0o077) === 0;
  } catch {
    return false;
  }
}

/**
 * The socket of one holder: storage folder hash plus the holder's activation id. A holder that
 * steps down removes only its own socket, never the one its successor listens on.
 */
export function socketPathFor(storageDir: string, activationId: string, directory = socketDirectory()): string {
  const name = `lifeline-${hashOf(storageDir)}-${activationId.slice(0, 12)}`;
  if (process.platform === 'win32') return `\\\\.\\pipe\\${name}`;
  const path = join(directory, `${name}.sock`);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw new JobError(
      'socketPathTooLong',
      `The socket path ${path} is ${Buffer.byteLength(path)} bytes; the limit is ${MAX_SOCKET_PATH_BYTES}. Set XDG_RUNTIME_DIR or TMPDIR to a shorter folder.`,
    );
  }
  return path;
}

function hashOf(storageDir: string): string {
  return createHash('sha256').update(storageDir).digest('hex').slice(0, 20);
}
