import type { Logger } from '../core/logger';
import { nullLogger } from '../core/logger';
import type { AuditOrigin } from '../core/queue/jobModel';
import type { CliIo } from './cliIo';
import type { CliSession } from './cliSession';
import { openCliSession } from './cliSession';
import { resolveTarget } from './cliTarget';
import { CommandLineError } from './cliErrors';

interface WorkspaceValues {
  readonly workspace?: string;
  readonly 'user-data-dir'?: string;
  readonly 'recovery-key'?: string;
  readonly verbose?: boolean;
}

/** The runtime's log on stderr, for `--verbose`. */
function stderrLogger(io: CliIo): Logger {
  const line =
    (level: string) =>
    (message: string | Error): void => {
      io.stderr.write(`${level} ${message instanceof Error ? message.message : message}\n`);
    };
  return { trace: () => undefined, debug: () => undefined, info: line('info '), warn: line('warn '), error: line('error') };
}

/** Who `lifeline` commands come from in the audit log. */
export const TERMINAL_ORIGIN: AuditOrigin = { kind: 'terminal', label: 'lifeline' };

/**
 * Opens the workspace, runs `body`, and closes it whatever happens: a holder releases the lease
 * (running jobs stay with their supervisors), so the next window or command takes over at once.
 */
export async function withSession<T>(
  values: WorkspaceValues,
  io: CliIo,
  body: (session: CliSession) => Promise<T>,
  role: 'cli' | 'mcp' = 'cli',
  origin: AuditOrigin = TERMINAL_ORIGIN,
): Promise<T> {
  io.signal.throwIfAborted();
  const target = await resolveTarget({ workspace: values.workspace, userDataDir: values['user-data-dir'] }, io.env, io.cwd);
  const session = await openCliSession(target, {
    role,
    origin,
    logger: values.verbose ? stderrLogger(io) : nullLogger,
    recoveryKey: values['recovery-key'] ?? io.env.LIFELINE_RECOVERY_KEY,
    distDirectory: io.distDirectory,
  });
  try {
    return await body(session);
  } finally {
    await session.close();
  }
}

/** The jobs named by full ids or unique prefixes (4 characters or more), in the order given. */
export function resolveJobIds(session: CliSession, given: readonly string[]): string[] {
  const ids = session.runtime.queue.jobs.map((job) => job.id);
  return given.map((text) => {
    if (ids.includes(text)) return text;
    if (text.length < 4) throw new CommandLineError('usage', `"${text}" is too short to name a job: give at least 4 characters of its id.`);
    const matches = ids.filter((id) => id.startsWith(text));
    if (matches.length === 1) return matches[0] as string;
    if (matches.length > 1) throw new CommandLineError('usage', `"${text}" names ${matches.length} jobs; give more of the id.`);
    throw new CommandLineError('unknownJob', `No job ${text} in the queue.`);
  });
}
