import { promises as fs } from 'node:fs';
import { resolve } from 'node:path';
import { CliError } from './cliErrors';

/** Writes `text` to stdout, or to a new file (never over an existing one: a typo must not clobber a file). */
export async function writeOutput(out: string | undefined, text: string): Promise<void> {
  if (out === undefined) {
    await new Promise<void>((done, fail) => process.stdout.write(text, (error) => (error ? fail(error) : done())));
    return;
  }
  await writeNewFile(out, text);
}

export async function writeNewFile(out: string, data: string | Uint8Array): Promise<void> {
  const path = resolve(out);
  try {
    await fs.writeFile(path, data, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new CliError('usage', `${path} exists already; give a new file name.`);
    if (code === 'ENOENT') throw new CliError('usage', `The folder of ${path} does not exist.`);
    throw error;
  }
}
