import { promisify } from 'node:util';
import { constants, gunzip as gunzipCallback, gzip as gzipCallback } from 'node:zlib';
import type { ZlibOptions } from 'node:zlib';
import { StorageError } from './errors';

// The callback forms run in libuv's thread pool, so a large (de)compression does not block the
// extension host's event loop.
const gzipAsync = promisify<Uint8Array, ZlibOptions, Buffer>(gzipCallback);
const gunzipAsync = promisify<Uint8Array, ZlibOptions, Buffer>(gunzipCallback);

export interface GzipOptions {
  /** zlib level 0..9. @default 6 (zlib's default: most of the gain of 9 for a fraction of the time) */
  readonly level?: number;
}

export async function gzip(data: Uint8Array, options: GzipOptions = {}): Promise<Uint8Array> {
  return gzipAsync(data, { level: options.level ?? constants.Z_DEFAULT_COMPRESSION });
}

/** True when `data` starts with the gzip magic number. */
export function looksGzipped(data: Uint8Array): boolean {
  return data.byteLength >= 2 && data[0] === 0x1f && data[1] === 0x8b;
}

export interface GunzipOptions {
  /**
   * Largest inflated size accepted. Required: gzip inflates up to about 1,000 times, so a few
   * kilobytes of a hostile file could otherwise claim gigabytes of memory.
   */
  readonly maxOutputBytes: number;
}

/**
 * Inflates gzip data, stopping as soon as the output would pass `maxOutputBytes` (zlib's
 * `maxOutputLength` checks as it goes, so a zip bomb never gets to allocate its full size).
 * Throws StorageError('decompressTooLarge') for that, StorageError('decompressFailed') for data
 * that is not valid gzip.
 */
export async function gunzip(data: Uint8Array, options: GunzipOptions): Promise<Uint8Array> {
  const limit = Math.max(1, Math.floor(options.maxOutputBytes));
  if (!looksGzipped(data)) {
    throw new StorageError('decompressFailed', 'The data is not gzip-compressed (its first bytes are not the gzip magic number).');
  }
  let output: Buffer;
  try {
    output = await gunzipAsync(data, { maxOutputLength: limit });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) {
      throw new StorageError(
        'decompressTooLarge',
        `The compressed data inflates to more than ${limit} bytes, the most allowed here; it was refused.`,
        { cause: error },
      );
    }
    throw new StorageError('decompressFailed', `The compressed data is damaged: ${(error as Error).message}.`, { cause: error });
  }
  return output;
}
