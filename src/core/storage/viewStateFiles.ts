import { fsp as fs } from './storageFs';
import { join } from 'node:path';
import type { z } from 'zod';
import type { Logger } from '../logger';
import { nullLogger } from '../logger';
import { writeFileAtomic } from './atomicFile';

/**
 * What panels looked like (filters, scroll, selection), one small JSON file per panel in the
 * workspace's storage folder. In a browser-hosted VS Code the webview's own state lives in the
 * browser and is gone with a new profile or port; this copy is not. It is view state, so a lost
 * write costs little: each save replaces the file atomically (no torn file, last writer wins
 * between windows), saves are coalesced, and a file that does not validate is ignored.
 */
export class ViewStateFiles {
  private readonly pending = new Map<string, { value: unknown; timer: NodeJS.Timeout }>();
  private writing: Promise<void> = Promise.resolve();
  private readonly logger: Logger;

  constructor(
    private readonly directory: string,
    private readonly options: { delayMs?: number; logger?: Logger } = {},
  ) {
    this.logger = options.logger ?? nullLogger;
  }

  private pathOf(key: string): string {
    if (!/^[A-Za-z][A-Za-z0-9-]{0,63}$/.test(key)) throw new Error(`not a view state key: ${key}`);
    return join(this.directory, `${key}.json`);
  }

  /** The saved state, or undefined when there is none or it does not validate. */
  async load<T>(key: string, schema: z.ZodType<T>): Promise<T | undefined> {
    let text: string;
    try {
      text = await fs.readFile(this.pathOf(key), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const parsed = schema.safeParse(JSON.parse(text));
      if (parsed.success) return parsed.data;
      this.logger.warn(`[viewState] ignored the saved ${key} state: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    } catch (error) {
      this.logger.warn(`[viewState] ignored the saved ${key} state: ${(error as Error).message}`);
    }
    return undefined;
  }

  /** Saves after a short quiet period; a newer value replaces one not yet written. */
  save(key: string, value: unknown): void {
    const path = this.pathOf(key);
    const previous = this.pending.get(key);
    if (previous) clearTimeout(previous.timer);
    const timer = setTimeout(() => this.write(key, path), this.options.delayMs ?? 300);
    this.pending.set(key, { value, timer });
  }

  private write(key: string, path: string): Promise<void> {
    const entry = this.pending.get(key);
    if (!entry) return this.writing;
    this.pending.delete(key);
    this.writing = this.writing
      .then(async () => {
        await fs.mkdir(this.directory, { recursive: true, mode: 0o700 });
        await writeFileAtomic(path, JSON.stringify(entry.value));
      })
      .catch((error: unknown) => this.logger.warn(`[viewState] could not save the ${key} state: ${String(error)}`));
    return this.writing;
  }

  /** Writes every pending save now (on shutdown). */
  async flush(): Promise<void> {
    for (const [key, entry] of [...this.pending]) {
      clearTimeout(entry.timer);
      await this.write(key, this.pathOf(key));
    }
    await this.writing;
  }
}
