import { readFile } from 'node:fs/promises';
import type { SqlJsStatic } from 'sql.js';
import { HistoryError } from './historyErrors';

export type { Database, SqlJsStatic, SqlValue, Statement } from 'sql.js';

const loads = new Map<string, Promise<SqlJsStatic>>();

/**
 * Loads sql.js once per wasm path, on first use: compiling the wasm costs tens of milliseconds,
 * so nothing on the activation path calls this. The wasm is read by us and handed over as bytes,
 * because the emscripten loader would otherwise look for it beside its own .js file, which the
 * bundle does not keep.
 */
export function loadSqlJs(wasmPath: string): Promise<SqlJsStatic> {
  let load = loads.get(wasmPath);
  if (!load) {
    load = (async () => {
      try {
        const wasmBinary = await readFile(wasmPath);
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily, off the activation path
        const init = require('sql.js') as (config: { wasmBinary: ArrayBuffer }) => Promise<SqlJsStatic>;
        const buffer = wasmBinary.buffer.slice(wasmBinary.byteOffset, wasmBinary.byteOffset + wasmBinary.byteLength) as ArrayBuffer;
        return await init({ wasmBinary: buffer });
      } catch (error) {
        loads.delete(wasmPath);
        throw new HistoryError('loadFailed', `Could not load the history database engine from ${wasmPath}.`, { cause: error });
      }
    })();
    loads.set(wasmPath, load);
  }
  return load;
}
