/**
 * Entry point of the detached supervisor process (dist/supervisor.js), started by the extension
 * host with its own runtime (`process.execPath`, ELECTRON_RUN_AS_NODE=1 in desktop VS Code):
 * `supervisor --socket <path> [--idle-exit-ms <ms>]`, with the jobs folder's handshake secret
 * (64 hex digits) on stdin. It serves the protocol of src/shared/supervisor/supervisorWire.ts behind
 * the handshake of handshake.ts; `--version` prints the protocol version.
 */
import { parseSecret } from '../shared/supervisor/node/handshakeProof';
import { SUPERVISOR_PROTOCOL_VERSION } from '../shared/supervisor/supervisorWire';
import { Supervisor } from './supervisor';

const DEFAULT_IDLE_EXIT_MS = 10_000;

function option(argv: readonly string[], name: string): string | undefined {
  const index = argv.indexOf(name);
  return index >= 0 ? argv[index + 1] : undefined;
}

/** Reads stdin to its end (the host closes it after the secret); more than a secret's worth is refused. */
function readSecret(): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk: string) => {
      text += chunk;
      if (text.length > 1024) {
        process.stdin.destroy();
        resolve(undefined);
      }
    });
    process.stdin.once('end', () => resolve(parseSecret(text)));
    process.stdin.once('error', () => resolve(undefined));
  });
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
  void readSecret().then((secret) => {
    if (!secret) {
      process.stderr.write('lifeline-supervisor: no handshake secret on stdin; refusing to start\n');
      process.exitCode = 2;
      return;
    }
    const supervisor = new Supervisor({ socketPath, idleExitMs, secret });
    supervisor.listen().catch((error: unknown) => {
      process.stderr.write(
        `lifeline-supervisor: cannot listen on ${socketPath}: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      process.exitCode = 1;
      supervisor.close();
    });
  });
}

main(process.argv.slice(2));
