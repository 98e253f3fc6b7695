import * as nodeFs from 'node:fs';

/**
 * The file-system calls Lifeline's stores make, behind one seam. Production always runs on
 * node:fs. The durability tests install a layer that fails the Nth call (EIO, ENOSPC) or keeps
 * unsynced writes apart and "loses power" (see docs/durability.md): a store must survive both,
 * and the only honest way to show it is to run the real store code over such a layer.
 */
export interface StorageFs {
  readonly promises: typeof nodeFs.promises;
  readonly openSync: typeof nodeFs.openSync;
  readonly closeSync: typeof nodeFs.closeSync;
  readonly writeSync: typeof nodeFs.writeSync;
  readonly rmSync: typeof nodeFs.rmSync;
  readonly write: typeof nodeFs.write;
  readonly fdatasync: typeof nodeFs.fdatasync;
  readonly ftruncate: typeof nodeFs.ftruncate;
  readonly close: typeof nodeFs.close;
}

export const nodeStorageFs: StorageFs = {
  promises: nodeFs.promises,
  openSync: nodeFs.openSync,
  closeSync: nodeFs.closeSync,
  writeSync: nodeFs.writeSync,
  rmSync: nodeFs.rmSync,
  write: nodeFs.write,
  fdatasync: nodeFs.fdatasync,
  ftruncate: nodeFs.ftruncate,
  close: nodeFs.close,
};

let current: StorageFs = nodeStorageFs;

/** The layer in use now. Read it at each call, never keep it: a test may swap it between calls. */
export function storageFs(): StorageFs {
  return current;
}

/**
 * `fs.promises` as the stores use it: every property is looked up on the layer in use at the
 * moment of the call, so the stores' code reads like plain node:fs.
 */
export const fsp: typeof nodeFs.promises = new Proxy({} as typeof nodeFs.promises, {
  get: (_target, key) => Reflect.get(current.promises, key) as unknown,
});

/** For tests only: routes the stores' file calls through `layer` until disposed. */
export function installStorageFs(layer: StorageFs): { dispose(): void } {
  const previous = current;
  current = layer;
  return {
    dispose: () => {
      current = previous;
    },
  };
}
