import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { EXIT } from '../core/control/jobView';
import type { CliIo, CliCommand } from '../cli/cliIo';
import { CommandLineError } from '../cli/cliErrors';
import type { CliSession } from '../cli/cliSession';
import { openCliSession } from '../cli/cliSession';
import { resolveTarget } from '../cli/cliTarget';
import { createLifelineMcpServer } from './mcpServer';
import { StderrLogger } from './stderrLogger';

const USAGE = 'lifeline mcp [--workspace DIR] [--user-data-dir DIR] [--recovery-key KEY]';

const HELP = `Usage: ${USAGE}

Serves the workspace's job queue to an agent over the Model Context Protocol on stdin/stdout
(docs/mcp.md). Log lines go to stderr. Jobs started through it outlive it.

  --workspace DIR       the workspace folder (default: the terminal's VS Code window, else the
                        current folder or its nearest parent Lifeline knows)
  --user-data-dir DIR   the editor's --user-data-dir, when it is not the default
  --recovery-key KEY    the recovery key of an encrypted workspace (or LIFELINE_RECOVERY_KEY)
  --help, -h            this help
`;

/** The audit log's label for the agent: the name its client gave in `initialize`. */
const MAX_LABEL = 200;

async function packageVersion(distDirectory: string): Promise<string> {
  try {
    const parsed = JSON.parse(await fs.readFile(join(distDirectory, '..', 'package.json'), 'utf8')) as { version?: unknown };
    return typeof parsed.version === 'string' ? parsed.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Resolves when the client is gone (stdin ended or broke, stdout broke) or the process is told to stop. */
function untilDone(io: CliIo, transportClosed: Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => resolve();
    io.stdin.once('end', done);
    io.stdin.once('close', done);
    io.stdin.once('error', done);
    io.stdout.once('error', done);
    io.signal.addEventListener('abort', done, { once: true });
    if (io.signal.aborted) done();
    void transportClosed.then(done);
  });
}

/**
 * `lifeline mcp`: an MCP server on stdio for the workspace. The workspace opens (as a client of
 * the window holding the queue, or as its holder while none does) once the client has said who it
 * is, so the audit log names the agent; it closes when the client goes away, releasing the lease
 * if this process held it. Closing never cancels a job: jobs run in their own supervisors.
 */
export const mcpCommand: CliCommand = {
  summary: 'serve the queue to agents over MCP (stdio)',
  usage: USAGE,
  async run(argv, io) {
    let values: { workspace?: string; 'user-data-dir'?: string; 'recovery-key'?: string; help?: boolean };
    try {
      ({ values } = parseArgs({
        args: [...argv],
        options: {
          workspace: { type: 'string' },
          'user-data-dir': { type: 'string' },
          'recovery-key': { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
        strict: true,
        allowPositionals: false,
      }));
    } catch (error) {
      io.stderr.write(`lifeline mcp: ${(error as Error).message}\nUsage: ${USAGE}\n`);
      return EXIT.usage;
    }
    if (values.help) {
      io.stdout.write(HELP);
      return EXIT.ok;
    }
    const logger = new StderrLogger(io.stderr, 'lifeline mcp');
    try {
      const target = await resolveTarget({ workspace: values.workspace, userDataDir: values['user-data-dir'] }, io.env, io.cwd);
      return await serve(io, logger, {
        open: (label) =>
          openCliSession(target, {
            role: 'mcp',
            logger,
            recoveryKey: values['recovery-key'] ?? io.env.LIFELINE_RECOVERY_KEY,
            origin: { kind: 'agent', ...(label ? { label: label.slice(0, MAX_LABEL) } : {}) },
            distDirectory: io.distDirectory,
            appVersion: 'lifeline mcp',
          }),
      });
    } catch (error) {
      if (error instanceof CommandLineError) {
        io.stderr.write(`lifeline mcp: ${error.message}\n`);
        return error.exitCode;
      }
      throw error;
    }
  },
};

async function serve(
  io: CliIo,
  logger: StderrLogger,
  workspace: { open(label: string | undefined): Promise<CliSession> },
): Promise<number> {
  let session: Promise<CliSession> | undefined;
  const server = createLifelineMcpServer({
    logger,
    version: await packageVersion(io.distDirectory),
    // Opened on the first need at the latest: a client that calls a tool before `initialized` still gets an answer.
    control: () => openSession().then((opened) => opened.control),
  });
  const openSession = (): Promise<CliSession> => {
    if (!session) {
      const client = server.getClientVersion();
      logger.info(`[mcp] opening the workspace for ${client ? `${client.name} ${client.version}` : 'an unnamed client'}`);
      session = workspace.open(client?.name);
      session.then(
        (opened) => logger.info(`[mcp] workspace open (${opened.runtime.queue.role} of the queue)`),
        (error: unknown) => {
          logger.error(`[mcp] the workspace cannot be opened: ${(error as Error).message}`);
          // Asked again at the next call: the workspace may be trusted, or its key given, meanwhile.
          session = undefined;
        },
      );
    }
    return session;
  };
  server.oninitialized = () => void openSession().catch(() => undefined);
  server.onerror = (error) => logger.warn(`[mcp] ${error.message}`);
  let transportClosed!: () => void;
  const closed = new Promise<void>((resolve) => (transportClosed = resolve));
  server.onclose = () => transportClosed();
  await server.connect(new StdioServerTransport(io.stdin, io.stdout));
  await untilDone(io, closed);
  logger.info('[mcp] the client went away; closing (jobs keep running)');
  await server.close().catch(() => undefined);
  const opened = await session?.catch(() => undefined);
  await opened?.close();
  return EXIT.ok;
}
