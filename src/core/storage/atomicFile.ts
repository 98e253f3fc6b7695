import type { FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { fsp as fs } from './storageFs';
import { basename, dirname, join, resolve } from 'node:path';

/**
 * Makes a rename durable. On Linux a rename is not on disk until its directory is fsynced.
 * Windows cannot open a directory for fsync; there the rename is as durable as NTFS makes it.
 */
export async function fsyncDirectory(directory: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await fs.open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Creates `directory` and its missing parents, durably: a new folder, like a new file, is not on
 * disk until the folder holding it is fsynced, so after a power cut a store's whole folder (and
 * every acknowledged record in it) could vanish although each file in it was synced.
 */
export async function mkdirDurable(directory: string): Promise<void> {
  const first = await fs.mkdir(directory, { recursive: true, mode: 0o700 });
  if (first === undefined) return; // it existed already
  // Each folder from `directory` up to the first one created is a new entry in its parent.
  for (let created = resolve(directory); ; created = dirname(created)) {
    await fsyncDirectory(dirname(created));
    if (created === resolve(first) || dirname(created) === created) break;
  }
}

/**
 * Replaces `path` with `data` so that after a crash at any moment the file holds either the old
 * content or the new one, never a mix: write a temp file beside it, fsync it, rename it over the
 * target, fsync the directory.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string | readonly Uint8Array[]): Promise<void> {
  const directory = dirname(path);
  const temp = join(directory, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fs.open(temp, 'wx', 0o600);
  try {
    if (typeof data === 'string' || data instanceof Uint8Array) await handle.writeFile(data);
    else await writeChunks(handle, data); // a large snapshot in pieces: never one huge copy
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await fs.rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await fs.rename(temp, path);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
  await fsyncDirectory(directory);
}

async function writeChunks(handle: FileHandle, chunks: readonly Uint8Array[]): Promise<void> {
  let position = 0;
  for (const chunk of chunks) {
    let written = 0;
    while (written < chunk.length) {
      const { bytesWritten } = await handle.write(chunk, written, chunk.length - written, position);
      written += bytesWritten;
      position += bytesWritten;
    }
  }
}
