// The port `npm start` serves on: `--port N` (or `--port=N`), else LIFELINE_PORT, else 8080.
// A value that is not a whole number from 1 to 65535 is refused with what was given, before
// anything is built or started.

/** @returns {{ port: number } | { error: string }} */
export function startPort(argv, env = process.env) {
  let raw;
  let from;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--port') {
      raw = argv[i + 1];
      from = '--port';
      if (raw === undefined || raw.startsWith('--')) return { error: '--port needs a number, as in --port 9000' };
    } else if (argv[i].startsWith('--port=')) {
      raw = argv[i].slice('--port='.length);
      from = '--port';
    }
  }
  if (raw === undefined && env.LIFELINE_PORT !== undefined && env.LIFELINE_PORT !== '') {
    raw = env.LIFELINE_PORT;
    from = 'LIFELINE_PORT';
  }
  if (raw === undefined) return { port: 8080 };
  if (!/^\d{1,5}$/.test(raw.trim()) || Number(raw) < 1 || Number(raw) > 65535) {
    return { error: `${from} ${JSON.stringify(raw)} is not a port: give a whole number from 1 to 65535` };
  }
  return { port: Number(raw) };
}
