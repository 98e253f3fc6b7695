import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { Damage } from './damageKinds';

/** Every file under `directory`, by relative path: a copy taken while the store may still be open (a crash image). */
export function readImage(directory: string): Map<string, Buffer> {
  const image = new Map<string, Buffer>();
  const walk = (folder: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) image.set(relative(directory, path), readFileSync(path));
    }
  };
  walk(directory);
  return image;
}

/** Writes `image` into a fresh `directory`, with `damage` applied to its one file. */
export function writeDamagedImage(directory: string, image: ReadonlyMap<string, Buffer>, damage: Damage): void {
  rmSync(directory, { recursive: true, force: true });
  mkdirSync(directory, { recursive: true });
  for (const [file, bytes] of image) {
    const contents = file === damage.file ? damage.bytes : bytes;
    if (contents === undefined) continue;
    mkdirSync(dirname(join(directory, file)), { recursive: true });
    writeFileSync(join(directory, file), contents);
  }
}
