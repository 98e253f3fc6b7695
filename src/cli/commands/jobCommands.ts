import type { CliCommand, CliIo } from '../cliIo';
import { parseCommandLine, parseDuration, parseInteger, shellQuote, WORKSPACE_HELP } from '../cliOptions';
import { CommandLineError } from '../cliErrors';
import type { CliSession } from '../cliSession';
import { resolveJobIds, withSession } from '../withSession';
import { exitStatusOfAll } from '../../core/control/jobView';
import { resultLine, shortId } from '../format';

const ADD_OPTIONS = {
  job: { type: 'string', short: 'j' },
  label: { type: 'string' },
  priority: { type: 'string' },
  delay: { type: 'string' },
  tag: { type: 'string', multiple: true },
  cwd: { type: 'string' },
  wait: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

/** A job that cannot start now while no window holds the queue waits for the next holder: say so. */
function noteWaiting(session: CliSession, id: string, io: CliIo): void {
  const job = session.runtime.queue.getJob(id);
  if (session.runtime.queue.role !== 'holder' || !job || (job.state !== 'queued' && job.state !== 'delayed')) return;
  io.stderr.write(
    `lifeline: no VS Code window holds this queue: the job starts when one does, or while a lifeline command (wait, follow) or the MCP server runs.\n`,
  );
}

export const addCommand: CliCommand = {
  summary: 'queue a shell command or a job of .vscode/lifeline.json; prints its id',
  usage: "lifeline add [options] 'COMMAND' | lifeline add [options] -- WORD... | lifeline add --job NAME",
  async run(argv, io) {
    const { values, positionals } = parseCommandLine(argv, ADD_OPTIONS, true);
    if (values.help) return help(io, this, ADD_HELP);
    if (values.job !== undefined && positionals.length > 0) {
      throw new CommandLineError('usage', 'Give either --job NAME or a command, not both.');
    }
    if (values.job === undefined && positionals.length === 0) throw new CommandLineError('usage', `Nothing to add. Usage: ${this.usage}`);
    // One argument is a command line as typed; several (after --) are words, quoted so each stays one.
    const command = positionals.length === 1 ? positionals[0] : positionals.length > 1 ? positionals.map(shellQuote).join(' ') : undefined;
    const request = {
      ...(values.job !== undefined ? { definition: values.job } : { command }),
      ...(values.label !== undefined
        ? { label: values.label }
        : positionals.length > 1
          ? { label: positionals.join(' ').slice(0, 200) }
          : {}),
      ...(values.priority !== undefined ? { priority: parseInteger(values.priority, '--priority', -100, 100) } : {}),
      ...(values.delay !== undefined ? { delaySeconds: parseDuration(values.delay, '--delay') / 1000 } : {}),
      ...(values.tag !== undefined ? { tags: values.tag } : {}),
      ...(values.cwd !== undefined ? { cwd: values.cwd } : {}),
    };
    return withSession(values, io, async (session) => {
      const view = await session.control.add(request);
      if (!values.wait) noteWaiting(session, view.id, io);
      if (values.wait) {
        const { jobs } = await session.control.wait([view.id], { signal: io.signal });
        io.stdout.write(values.json ? `${JSON.stringify(jobs[0])}\n` : `${view.id}\n${jobs.map(resultLine).join('')}`);
        return exitStatusOfAll(jobs);
      }
      io.stdout.write(values.json ? `${JSON.stringify(view)}\n` : `${view.id}\n`);
      return 0;
    });
  },
};

const ADD_HELP = [
  'Options:',
  '  --job, -j NAME         a job defined in .vscode/lifeline.json instead of a command',
  '  --label TEXT           the name shown in the queue (default: the command)',
  '  --priority N           -100 to 100; higher starts first (default 0)',
  '  --delay DURATION       start no sooner than this from now: 30s, 5m, 2h',
  '  --tag TAG              a tag (repeat for more)',
  '  --cwd DIR              the working folder, relative to the workspace folder',
  "  --wait                 then wait for it; the exit status is the job's",
  '  --json                 print the job as JSON (docs/cli.md) instead of its id',
].join('\n');

function help(io: CliIo, command: CliCommand, text: string): number {
  io.stdout.write(`Usage: ${command.usage}\n\n${command.summary}.\n\n${text ? `${text}\n\n` : ''}${WORKSPACE_HELP}\n`);
  return 0;
}

/** cancel, retry and resume: one queue command per job named. */
function jobAction(name: 'cancel' | 'retry' | 'resume', summary: string): CliCommand {
  return {
    summary,
    usage: `lifeline ${name} ID...`,
    async run(argv, io) {
      const { values, positionals } = parseCommandLine(argv, { json: { type: 'boolean' } }, true);
      if (values.help) return help(io, this, '  --json                 print the jobs as JSON');
      if (positionals.length === 0) throw new CommandLineError('usage', `Which job? Usage: ${this.usage}`);
      return withSession(values, io, async (session) => {
        for (const id of resolveJobIds(session, positionals)) {
          const view = await session.control[name](id);
          io.stdout.write(values.json ? `${JSON.stringify(view)}\n` : `${shortId(view.id)}  ${view.state}  ${view.name}\n`);
          if (name !== 'cancel') noteWaiting(session, id, io);
        }
        return 0;
      });
    },
  };
}

export const cancelCommand = jobAction('cancel', 'cancel queued or running jobs (running ones get SIGTERM, then SIGKILL)');
export const retryCommand = jobAction('retry', 'run finished jobs again from their first stage');
export const resumeCommand = jobAction('resume', 'run interrupted or failed jobs again from their first unfinished stage');
export { help as commandHelp };
