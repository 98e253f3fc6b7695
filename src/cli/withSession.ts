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
    const result = await body(session);
    await handOverStarts(session);
    return result;
  } finally {
    await session.close();
  }
}

/** How long a holder waits for jobs it started to have their processes before it lets the lease go. */
const HAND_OVER_MS = 10_000;

/**
 * While this command holds the queue, a job it started (add, retry, resume, unpause, or the
 * scheduler on its own) must have its process before the lease goes: the supervisor then owns the
 * run and the next holder adopts it, where a start still in flight would be found interrupted.
 */
async function handOverStarts(session: CliSession): Promise<void> {
  const queue = session.runtime.queue;
  if (queue.role !== 'holder') return;
  const starting = (): boolean => queue.jobs.some((job) => job.state === 'running' && job.pid === undefined);
  if (!starting()) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, HAND_OVER_MS);
    const subscription = queue.onDidChange(() => {
      if (!starting()) done();
    });
    function done(): void {
      clearTimeout(timer);
      subscription.dispose();
      resolve();
    }
  });
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
