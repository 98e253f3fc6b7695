/**
 * Entry point of the detached supervisor process (dist/supervisor.js), started by the extension
 * host with its own runtime (`process.execPath`, ELECTRON_RUN_AS_NODE=1 in desktop VS Code):
 * `supervisor --socket <path> [--idle-exit-ms <ms>]`. It serves the protocol of
 * src/core/jobs/supervisorProtocol.ts; `--version` prints the protocol version.
 */
import { SUPERVISOR_PROTOCOL_VERSION } from '../core/jobs/supervisorProtocol';
import { Supervisor } from './supervisor';

const DEFAULT_IDLE_EXIT_MS = 10_000;

function option(argv: readonly string[], name: string): string | undefined {
  const index = argv.indexOf(name);
  return index >= 0 ? argv[index + 1] : undefined;
}

function main(argv: readonly string[]): void {
  if (argv.includes('--version')) {
    process.stdout.write(`lifeline-supervisor protocol ${SUPERVISOR_PROTOCOL_VERSION}\n`);
    return;
  }
  const socketPath = option(argv, '--socket');
  const idleExitMs = Number(option(argv, '--idle-exit-ms') ?? DEFAULT_IDLE_EXIT_MS);
  if (!socketPath || !Number.isFinite(idleExitMs) || idleExitMs <= 0) {
    process.stderr.write('usage: supervisor --socket <path> [--idle-exit-ms <ms>]\n');
    process.exitCode = 2;
    return;
  }
  const supervisor = new Supervisor({ socketPath, idleExitMs });
  supervisor.listen().catch((error: unknown) => {
    process.stderr.write(`lifeline-supervisor: cannot listen on ${socketPath}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
    supervisor.close();
  });
}

main(process.argv.slice(2));
