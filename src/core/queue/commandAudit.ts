import type { AuditOrigin, CommandAudit, CommandResult, QueueCommand } from './jobModel';

/**
 * What the audit log keeps of a command: its type, the job it names (id and name then), and the
 * few values that say what changed. Never a command line or an environment: those can hold
 * secrets, and the queue's own record of the job keeps them anyway.
 */
export function commandAudit(
  command: QueueCommand,
  result: CommandResult,
  origin: AuditOrigin | undefined,
  at: number,
  jobName: (jobId: string) => string | undefined,
): CommandAudit {
  const jobId = 'jobId' in command && command.jobId !== undefined ? command.jobId : result.jobId;
  const detail: Record<string, string | number | boolean | null> = {};
  switch (command.type) {
    case 'enqueue':
      if (command.group !== undefined) detail.group = command.group;
      if (command.runAt !== undefined) detail.runAt = command.runAt;
      break;
    case 'move':
      detail[command.before !== undefined ? 'before' : 'after'] = (command.before ?? command.after) as string;
      break;
    case 'setPriority':
      detail.priority = command.priority;
      break;
    case 'clearFinished':
      detail.count = result.count ?? 0;
      if (command.jobIds !== undefined) detail.selected = command.jobIds.length;
      break;
    case 'discard':
      detail.outputsRemoved = result.count ?? 0;
      break;
    case 'setPaused':
      detail.paused = command.paused;
      break;
    case 'setAutoRun':
      detail.autoRun = command.autoRun;
      break;
    case 'setConcurrency':
      detail.limit = command.limit;
      break;
    default:
      break;
  }
  const name = jobId !== undefined ? jobName(jobId) : undefined;
  return {
    at,
    action: command.type,
    ...(origin ? { origin } : {}),
    ...(jobId !== undefined ? { jobId } : {}),
    ...(name !== undefined ? { job: name } : {}),
    ...(Object.keys(detail).length > 0 ? { detail } : {}),
  };
}
