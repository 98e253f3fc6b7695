import * as nodeFs from 'node:fs';
import { dirname } from 'node:path';

// The plain file helpers of PowerLossFs (powerLossFs.ts), on node:fs itself: they are the layer's
// own access to the disk, never counted and never cut.

/** A namespace change not yet durable: it waits for each directory in `dirs` to be fsynced. */
export type NamespaceOp = { readonly dirs: Set<string> } & (
  | { readonly kind: 'create' | 'mkdir'; readonly path: string }
  | { readonly kind: 'rename'; readonly from: string; readonly to: string; readonly replaced: Buffer | undefined }
  | { readonly kind: 'unlink'; readonly path: string; readonly content: Buffer }
);

export function parseFlags(flags: string | number | undefined): { create: boolean; truncate: boolean } {
  if (flags === undefined) return { create: false, truncate: false };
  if (typeof flags === 'number') {
    return { create: (flags & nodeFs.constants.O_CREAT) !== 0, truncate: (flags & nodeFs.constants.O_TRUNC) !== 0 };
  }
  return { create: /[wa]/.test(flags), truncate: flags.includes('w') };
}

export function fileSize(path: string): number {
  try {
    return nodeFs.statSync(path).size;
  } catch {
    return 0;
  }
}

export function readRange(path: string, start: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  if (length === 0) return buffer;
  const fd = nodeFs.openSync(path, 'r');
  try {
    const read = nodeFs.readSync(fd, buffer, 0, length, start);
    return buffer.subarray(0, read);
  } finally {
    nodeFs.closeSync(fd);
  }
}

export function undo(op: NamespaceOp): void {
  switch (op.kind) {
    case 'create':
      nodeFs.rmSync(op.path, { force: true });
      return;
    case 'mkdir':
      nodeFs.rmSync(op.path, { recursive: true, force: true });
      return;
    case 'unlink':
      if (!nodeFs.existsSync(dirname(op.path))) return;
      nodeFs.writeFileSync(op.path, op.content);
      return;
    case 'rename':
      if (!nodeFs.existsSync(op.to) || !nodeFs.existsSync(dirname(op.from))) return;
      nodeFs.renameSync(op.to, op.from);
      if (op.replaced) nodeFs.writeFileSync(op.to, op.replaced);
  }
}
