/**
 * Entry point of the detached supervisor process (dist/supervisor.js), started by the extension
 * host with its own runtime. It runs jobs and writes their durable records; the protocol arrives
 * with the supervisors issue. Until then it answers `--version` so the build and packaging of the
 * second bundle are exercised, and refuses anything else with a clear message.
 */
const SUPERVISOR_PROTOCOL_VERSION = 0;

function main(argv: readonly string[]): number {
  if (argv.includes('--version')) {
    process.stdout.write(`lifeline-supervisor protocol ${SUPERVISOR_PROTOCOL_VERSION}\n`);
    return 0;
  }
  process.stderr.write('lifeline-supervisor: this build runs no jobs yet (protocol version 0).\n');
  return 2;
}

process.exitCode = main(process.argv.slice(2));
