import { resolve } from 'node:path';
import { StorageError } from './errors';

/**
 * The stores open in this process. Two writers on one journal would interleave frames: across
 * processes the workspace lease keeps one writer; within a process these claims do.
 */
const openStores = new Set<string>();

/** Claims the store `name` in `directory` for this process; throws if the name is invalid or the store is open. */
export function claimStore(directory: string, name: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || name.startsWith('.')) {
    throw new StorageError('ioError', `"${name}" is not a valid store name.`);
  }
  const key = `${resolve(directory)}\u0000${name}`;
  if (openStores.has(key)) throw new StorageError('locked', `The store ${name} in ${directory} is already open in this process.`);
  openStores.add(key);
  return key;
}

export function releaseStore(key: string): void {
  openStores.delete(key);
}
