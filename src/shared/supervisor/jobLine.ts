/**
 * The line protocol a job uses to talk back on stdout (documented for job authors), read by both
 * runners (the detached supervisor and the in-process one):
 * - `::lifeline progress <percent> [message]`: `percent` is a number from 0 to 100 (a trailing `%`
 *   is allowed), clamped to that range and reported as a fraction (42 becomes 0.42).
 * - `::lifeline checkpoint <text>`: everything after `checkpoint ` is the checkpoint, verbatim.
 *
 * Anything else, including a progress line whose percent is not a number, is ordinary output
 * (undefined): a malformed line never breaks the job.
 */
export function parseJobLine(
  line: string,
): { kind: 'progress'; fraction: number; message: string | undefined } | { kind: 'checkpoint'; checkpoint: string } | undefined {
  if (!line.startsWith('::lifeline ')) return undefined;
  const rest = line.slice('::lifeline '.length);
  if (rest.startsWith('checkpoint ')) return { kind: 'checkpoint', checkpoint: rest.slice('checkpoint '.length) };
  const progress = /^progress\s+(\S+?)%?(?:\s+(.*))?$/.exec(rest);
  if (!progress?.[1]) return undefined;
  const percent = Number(progress[1]);
  if (!Number.isFinite(percent)) return undefined;
  return { kind: 'progress', fraction: Math.min(100, Math.max(0, percent)) / 100, message: progress[2] };
}
