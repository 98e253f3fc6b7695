import { CliError } from './cliErrors';

/** The options every subcommand takes: where the storage folder is, the key, the output form. */
const commonFlags = {
  '--workspace': true,
  '--dir': true,
  '--user-data-dir': true,
  '--recovery-key': true,
  '--json': false,
  '--help': false,
  '--verbose': false,
} as const;

/** Options of one subcommand (`true`: takes a value) and how many positional arguments it wants. */
export interface CommandSpec {
  readonly flags: Readonly<Record<string, boolean>>;
  readonly positional: readonly string[];
}

export interface ParsedArgs {
  readonly command: string;
  readonly flags: ReadonlyMap<string, string | true>;
  readonly positional: readonly string[];
}

/**
 * Reads `<command> [options] [arguments]`. `--name=value` and `--name value` both work; `-h` is
 * `--help`. Anything not in the command's spec is refused by name, so a typo never runs a command
 * with a default the person did not mean.
 */
export function parseArgs(argv: readonly string[], specs: Readonly<Record<string, CommandSpec>>): ParsedArgs {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    return { command: 'help', flags: new Map(), positional: command === 'help' && rest[0] ? [rest[0]] : [] };
  }
  const spec = specs[command];
  if (!spec) throw new CliError('usage', `Unknown command "${command}". Commands: ${Object.keys(specs).join(', ')}.`);
  const allowed: Record<string, boolean> = { ...commonFlags, ...spec.flags };
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] as string;
    if (arg === '-h') {
      flags.set('--help', true);
      continue;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const takesValue = allowed[name];
    if (takesValue === undefined) {
      throw new CliError('usage', `Unknown option ${name} for "${command}" (see lifeline-store ${command} --help).`);
    }
    if (flags.has(name)) throw new CliError('usage', `${name} was given twice.`);
    if (!takesValue) {
      if (eq > 0) throw new CliError('usage', `${name} takes no value.`);
      flags.set(name, true);
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : rest[++i];
    if (value === undefined || value === '') throw new CliError('usage', `${name} needs a value.`);
    flags.set(name, value);
  }
  if (!flags.has('--help') && positional.length !== spec.positional.length) {
    const wanted = spec.positional.length === 0 ? 'no argument' : spec.positional.join(' ');
    throw new CliError('usage', `"${command}" takes ${wanted}; got ${positional.length === 0 ? 'none' : positional.join(' ')}.`);
  }
  return { command, flags, positional };
}

/** The value of a flag that takes one; undefined when it was not given. */
export function flagValue(args: ParsedArgs, name: string): string | undefined {
  const value = args.flags.get(name);
  return typeof value === 'string' ? value : undefined;
}

/** A flag's value, which must be one of `choices`. */
export function choiceFlag<T extends string>(args: ParsedArgs, name: string, choices: readonly T[], fallback: T): T {
  const value = flagValue(args, name);
  if (value === undefined) return fallback;
  const found = choices.find((choice) => choice === value);
  if (!found) throw new CliError('usage', `${name} must be one of ${choices.join(', ')}; got "${value}".`);
  return found;
}
