import type { Readable, Writable } from 'node:stream';

/** What a `lifeline` subcommand runs with: its process's streams and surroundings, passed in so tests can run it in-process. */
export interface CliIo {
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** The folder of dist/: the supervisor and sql.js's wasm sit beside the bundle. */
  readonly distDirectory: string;
  /** Aborted on SIGINT / SIGTERM: a command stops waiting and closes the workspace (releasing the lease). */
  readonly signal: AbortSignal;
}

/** A subcommand of `lifeline`. */
export interface CliCommand {
  readonly summary: string;
  readonly usage: string;
  /** Resolves with the exit status. */
  run(argv: readonly string[], io: CliIo): Promise<number>;
}
