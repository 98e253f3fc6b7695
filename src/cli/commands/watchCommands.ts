import { EXIT, exitStatusOf, exitStatusOfAll } from '../../core/control/jobView';
import type { CliCommand } from '../cliIo';
import { parseCommandLine, parseDuration, parseInteger } from '../cliOptions';
import { CommandLineError } from '../cliErrors';
import { resolveJobIds, withSession } from '../withSession';
import { resultLine } from '../format';
import { commandHelp } from './jobCommands';

export const waitCommand: CliCommand = {
  summary: "wait until jobs end; the exit status is the job's (several: the first that did not succeed)",
  usage: 'lifeline wait [--timeout DURATION] [--json] (ID... | --all)',
  async run(argv, io) {
    const { values, positionals } = parseCommandLine(
      argv,
      { all: { type: 'boolean' }, timeout: { type: 'string' }, json: { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' } },
      true,
    );
    if (values.help) {
      return commandHelp(
        io,
        this,
        [
          '  --all                  every job not finished now',
          '  --timeout DURATION     give up after 30s, 5m…: exit status 124, jobs go on',
          '  --json                 the jobs as JSON (docs/cli.md)',
          '  --quiet, -q            print nothing',
          '',
          'Exit status: 0 succeeded; the exit code of a failed job; 128+N killed by signal N;',
          '130 cancelled; 75 interrupted (resume it); 124 --timeout passed; 4 no such job.',
        ].join('\n'),
      );
    }
    if (values.all && positionals.length > 0) throw new CommandLineError('usage', 'Give job ids or --all, not both.');
    if (!values.all && positionals.length === 0) throw new CommandLineError('usage', `Which jobs? Usage: ${this.usage}`);
    const timeoutMs = values.timeout === undefined ? undefined : parseDuration(values.timeout, '--timeout');
    return withSession(values, io, async (session) => {
      const ids = values.all ? [] : resolveJobIds(session, positionals);
      const { jobs, timedOut } = await session.control.wait(ids, { timeoutMs, signal: io.signal });
      if (!values.quiet) io.stdout.write(values.json ? `${JSON.stringify({ timedOut, jobs })}\n` : jobs.map(resultLine).join(''));
      if (timedOut) {
        if (!values.quiet) io.stderr.write(`lifeline: --timeout passed; the jobs go on.\n`);
        return EXIT.timedOut;
      }
      return exitStatusOfAll(jobs);
    });
  },
};

export const followCommand: CliCommand = {
  summary: "print a job's output as it is written, until the job ends; the exit status is the job's",
  usage: 'lifeline follow [--lines N] ID',
  async run(argv, io) {
    const { values, positionals } = parseCommandLine(argv, { lines: { type: 'string', short: 'n' } }, true);
    if (values.help) {
      return commandHelp(io, this, "  --lines, -n N          start with the last N lines of output (default: all of the latest attempt's)");
    }
    if (positionals.length !== 1) throw new CommandLineError('usage', `Give one job. Usage: ${this.usage}`);
    const fromLines = values.lines === undefined ? undefined : parseInteger(values.lines, '--lines', 0, 1_000_000);
    return withSession(values, io, async (session) => {
      const [id] = resolveJobIds(session, positionals) as [string];
      const view = await session.control.follow(id, (text) => text && io.stdout.write(text), { fromLines, signal: io.signal });
      io.stderr.write(resultLine(view));
      return exitStatusOf(view);
    });
  },
};

export const logCommand: CliCommand = {
  summary: "print the last lines of a job's output",
  usage: 'lifeline log [--lines N] ID',
  async run(argv, io) {
    const { values, positionals } = parseCommandLine(argv, { lines: { type: 'string', short: 'n' } }, true);
    if (values.help) return commandHelp(io, this, '  --lines, -n N          how many lines (default 40)');
    if (positionals.length !== 1) throw new CommandLineError('usage', `Give one job. Usage: ${this.usage}`);
    const lines = values.lines === undefined ? 40 : parseInteger(values.lines, '--lines', 1, 1_000_000);
    return withSession(values, io, async (session) => {
      const [id] = resolveJobIds(session, positionals) as [string];
      io.stdout.write(await session.control.tail(id, lines));
      return 0;
    });
  },
};
