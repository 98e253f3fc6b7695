import type { CliCommand } from '../cliIo';
import { parseCommandLine } from '../cliOptions';
import { CommandLineError } from '../cliErrors';
import { jobTable } from '../format';
import { resolveJobIds, withSession } from '../withSession';
import { commandHelp } from './jobCommands';

export const statusCommand: CliCommand = {
  summary: 'the queue: every job, or the ones named',
  usage: 'lifeline status [--json] [ID...]',
  async run(argv, io) {
    const { values, positionals } = parseCommandLine(argv, { json: { type: 'boolean' } }, true);
    if (values.help) return commandHelp(io, this, '  --json                 versioned JSON (schemaVersion 1; docs/cli.md)');
    return withSession(values, io, async (session) => {
      const status = session.control.status();
      if (positionals.length > 0) {
        const wanted = new Set(resolveJobIds(session, positionals));
        status.jobs = status.jobs.filter((job) => wanted.has(job.id));
      }
      if (values.json) {
        io.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
        return 0;
      }
      const flags = `${status.paused ? 'paused' : 'not paused'}, ${status.concurrency} at a time, ${session.runtime.queue.role === 'holder' ? 'held by this command (no window holds it)' : 'held by VS Code'}`;
      io.stdout.write(`${status.workspace} (${flags})\n${jobTable(status.jobs)}`);
      return 0;
    });
  },
};

function pauseCommand(paused: boolean): CliCommand {
  return {
    summary: paused ? 'start no new job until unpaused (running ones go on)' : 'start queued jobs again',
    usage: `lifeline ${paused ? 'pause' : 'unpause'}`,
    async run(argv, io) {
      const { values } = parseCommandLine(argv, {}, false);
      if (values.help) return commandHelp(io, this, '');
      return withSession(values, io, async (session) => {
        const status = await session.control.setPaused(paused);
        io.stdout.write(`The queue is ${status.paused ? 'paused' : 'running'}.\n`);
        return 0;
      });
    },
  };
}

export const pauseQueueCommand = pauseCommand(true);
export const unpauseQueueCommand = pauseCommand(false);

export const definitionsCommand: CliCommand = {
  summary: 'the jobs defined in .vscode/lifeline.json',
  usage: 'lifeline definitions [--json]',
  async run(argv, io) {
    const { values } = parseCommandLine(argv, { json: { type: 'boolean' } }, false);
    if (values.help) return commandHelp(io, this, '  --json                 the definitions as JSON');
    return withSession(values, io, async (session) => {
      const read = await session.control.definitions();
      if (values.json) {
        io.stdout.write(`${JSON.stringify({ schemaVersion: 1, problem: read.problem, definitions: read.definitions }, null, 2)}\n`);
      } else {
        for (const definition of read.definitions) {
          const what =
            'stages' in definition
              ? `${definition.stages.length} stages: ${definition.stages.map((s) => s.name).join(', ')}`
              : definition.command;
          io.stdout.write(`${definition.name}  ${what}\n`);
        }
        if (read.definitions.length === 0 && !read.problem) io.stdout.write('No jobs defined in .vscode/lifeline.json.\n');
      }
      if (read.problem) throw new CommandLineError('usage', read.problem);
      return 0;
    });
  },
};
