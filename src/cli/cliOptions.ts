import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { CommandLineError } from './cliErrors';

/** Options every subcommand that opens the workspace takes. */
export const WORKSPACE_OPTIONS = {
  workspace: { type: 'string' },
  'user-data-dir': { type: 'string' },
  'recovery-key': { type: 'string' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

export const WORKSPACE_HELP = [
  'Workspace (default: the VS Code window this terminal belongs to, else the current folder or a parent):',
  '  --workspace DIR        the folder opened in VS Code',
  "  --user-data-dir DIR    the editor's --user-data-dir, when it is not the default",
  '  --recovery-key KEY     the recovery key of an encrypted workspace (or LIFELINE_RECOVERY_KEY)',
  '  --verbose              the runtime log on stderr',
].join('\n');

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses strictly: an unknown option, a missing value or a stray argument is a usage error that names it. */
export function parseCommandLine<T extends Options>(argv: readonly string[], options: T, allowPositionals: boolean) {
  try {
    return parseArgs({ args: [...argv], options: { ...WORKSPACE_OPTIONS, ...options }, allowPositionals, strict: true });
  } catch (error) {
    throw new CommandLineError('usage', (error as Error).message.replace(/\. To specify a positional.*$/s, '.'));
  }
}

/** `30`, `30s`, `5m`, `2h`, `1.5h` → milliseconds; a usage error names the option otherwise. */
export function parseDuration(text: string, option: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new CommandLineError('usage', `${option} takes a duration like 30, 30s, 5m or 2h, not "${text}".`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'];
  const ms = Number(match[1]) * unit;
  if (!Number.isFinite(ms) || ms > 365 * 86_400_000) throw new CommandLineError('usage', `${option} is too long: ${text}.`);
  return ms;
}

export function parseInteger(text: string, option: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^-?\d+$/.test(text.trim()) || value < min || value > max) {
    throw new CommandLineError('usage', `${option} takes a whole number from ${min} to ${max}, not "${text}".`);
  }
  return value;
}

/** POSIX single quotes, so that `lifeline add -- make "a b"` runs exactly those words. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
