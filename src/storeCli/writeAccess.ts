import { join } from 'node:path';
import type { CliContext } from './cliContext';
import { CliLease } from './cliLease';
import { BACKUPS_FOLDER, StoreSet } from './storeSet';

/**
 * Runs `work` while this command holds the folder's lease: refused with the holder's name while a
 * window holds it; released whatever happens.
 */
export async function withLease<T>(context: CliContext, work: () => Promise<T>): Promise<T> {
  const lease = await CliLease.acquire(context.directory);
  try {
    return await work();
  } finally {
    await lease.release();
  }
}

/** Opens the folder's own stores (their normal open, which repairs and reports); call it holding the lease. */
export async function withOwnStores<T>(
  context: CliContext,
  options: { createState?: boolean },
  work: (stores: StoreSet) => Promise<T>,
): Promise<T> {
  const stores = await StoreSet.open({
    directory: context.directory,
    backupsDirectory: join(context.directory, BACKUPS_FOLDER),
    cipher: context.cipher,
    wasmPath: context.wasmPath,
    logger: context.logger,
    createState: options.createState,
  });
  try {
    return await work(stores);
  } finally {
    await stores.close();
  }
}
