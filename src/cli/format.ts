import type { JobView } from '../core/control/jobView';
import { displayStateLabels, formatDuration } from '../shared/jobDisplay';

/** The short id the table shows; any unique prefix of 4 or more characters names a job. */
export function shortId(id: string): string {
  return id.slice(0, 8);
}

function detail(view: JobView): string {
  const parts: string[] = [];
  if (view.stage && view.kind === 'pipeline') parts.push(`stage ${view.stage.number}/${view.stage.of} ${view.stage.name}`);
  if (view.progress?.fraction !== undefined && !view.finished) parts.push(`${Math.round(view.progress.fraction * 100)}%`);
  if (view.progress?.message) parts.push(view.progress.message);
  if (view.finished && view.state !== 'succeeded') {
    if (typeof view.exitCode === 'number') parts.push(`exit ${view.exitCode}`);
    else if (view.signal) parts.push(view.signal);
    // The error repeats the exit ("exited with code 3") unless there was none (the job could not start).
    if (view.error && typeof view.exitCode !== 'number' && !view.signal) parts.push(view.error);
  }
  if (view.startsAt) parts.push(`starts ${new Date(view.startsAt).toLocaleTimeString()}`);
  if (view.estimatedRemainingMs !== undefined) parts.push(`about ${formatDuration(view.estimatedRemainingMs)} left`);
  return parts.join(', ');
}

/** A plain table: one job per line, columns padded, nothing cut but the name and the detail. */
export function jobTable(views: readonly JobView[]): string {
  if (views.length === 0) return 'No jobs.\n';
  const rows = views.map((view) => [
    shortId(view.id),
    displayStateLabels[view.state],
    view.durationMs === undefined ? '' : formatDuration(view.durationMs),
    view.name.length > 48 ? `${view.name.slice(0, 47)}…` : view.name,
    detail(view),
  ]);
  const header = ['ID', 'STATE', 'TIME', 'NAME', 'DETAIL'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] as string).length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] as number)))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

/** One line about a job that ended, for `wait`. */
export function resultLine(view: JobView): string {
  const what = detail(view);
  return `${shortId(view.id)}  ${displayStateLabels[view.state]}${what ? ` (${what})` : ''}  ${view.name}\n`;
}
