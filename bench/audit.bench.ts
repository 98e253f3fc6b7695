import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DurableQueueLog } from '../src/core/queue/durableQueueLog';
import type { CommandAudit, Job, QueueRecord } from '../src/core/queue/jobModel';
import { retryPolicySchema } from '../src/core/queue/retryPolicy';
import type { AuditEntry } from '../src/core/runtime/auditFile';
import { AuditFile } from '../src/core/runtime/auditFile';
import type { BenchContext, BenchFigure, BenchSuite } from './harness';
import { percentile } from './harness';

function jobOf(index: number, dir: string): Job {
  return {
    id: `job-${index % 100}`,
    name: `build ${index % 100}`,
    kind: 'command',
    group: 'default',
    stages: [{ name: 'main', command: `npm run build -- --shard ${index}`, cwd: dir, outputs: [] }],
    priority: index % 7,
    position: index + 1,
    tags: ['bench'],
    state: 'queued',
    createdAt: Date.now(),
    retry: retryPolicySchema.parse({}),
    attempts: 0,
    completedStages: [],
    interruptions: 0,
  };
}

/**
 * What recording a queue command in the audit log costs its commit (docs/audit.md). Three queue
 * logs, measured interleaved, command by command (fdatasync latency moves a lot here):
 * - `plain`: the command's records with a `cmd` record that carries no audit;
 * - `audit` (what Lifeline does): the same with the audit record in the `cmd` record, and the
 *   entries copied to the audit file in batches of 64 or every 200 ms, off the commit's path;
 * - `syncedFile` (the design not taken): the plain commit, then the entry appended to an audit
 *   file with fdatasync before the acknowledgement.
 */
async function run(context: BenchContext): Promise<BenchFigure[]> {
  const samples = Math.max(50, Math.round(1000 * context.scale));
  const open = async (name: string): Promise<DurableQueueLog> => {
    const log = new DurableQueueLog({ directory: join(context.scratchDir, name), compaction: false });
    await log.load();
    return log;
  };
  const plain = await open('plain');
  const audited = await open('audited');
  const synced = await open('synced');
  const copyFile = new AuditFile({ directory: join(context.scratchDir, 'audit-copy') });
  const syncedFile = new AuditFile({ directory: join(context.scratchDir, 'audit-synced') });
  let pending: AuditEntry[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    clearTimeout(timer);
    timer = undefined;
    const entries = pending;
    pending = [];
    void copyFile.append(entries);
  };
  const times = { plain: [] as number[], audit: [] as number[], synced: [] as number[] };
  try {
    for (let index = 0; index < samples; index++) {
      const job = jobOf(index, context.scratchDir);
      const audit: CommandAudit = {
        at: Date.now(),
        action: 'setPriority',
        origin: { kind: 'window', id: '5f0c1e0e-8d8c-4a43-9a57-2c8a6f1f7c11', label: 'window 1a2b3c4d, extension host 12345' },
        jobId: job.id,
        job: job.name,
        detail: { priority: job.priority },
      };
      const id = `command-${index}`;
      const records = (withAudit: boolean): QueueRecord[] => [
        { t: 'job', job },
        { t: 'cmd', id, result: { jobId: job.id }, ...(withAudit ? { audit } : {}) },
      ];

      let started = performance.now();
      await plain.commit(records(false));
      times.plain.push(performance.now() - started);

      started = performance.now();
      await audited.commit(records(true));
      times.audit.push(performance.now() - started);
      pending.push({ id, ...audit });
      if (pending.length >= 64) flush();
      else timer ??= setTimeout(flush, 200);

      started = performance.now();
      await synced.commit(records(false));
      await syncedFile.append([{ id, ...audit }]);
      times.synced.push(performance.now() - started);
    }
    flush();
    await copyFile.whenIdle();
  } finally {
    await Promise.all([plain.close(), audited.close(), synced.close()]);
  }
  const note = `${samples} interleaved commits of a job record + cmd record`;
  const p = (list: number[], at: number): number => percentile(list, at);
  return [
    { name: 'audit.commit.plain.p50Ms', value: p(times.plain, 50), unit: 'ms', note: 'cmd record without audit' },
    { name: 'audit.commit.p50Ms', value: p(times.audit, 50), unit: 'ms', note: 'audit in the cmd record, copied to the file in batches' },
    { name: 'audit.commit.p99Ms', value: p(times.audit, 99), unit: 'ms', note },
    { name: 'audit.ratioP50', value: p(times.audit, 50) / p(times.plain, 50), unit: 'ratio', target: { max: 1.2 }, note },
    { name: 'audit.ratioP99', value: p(times.audit, 99) / p(times.plain, 99), unit: 'ratio', note },
    {
      name: 'audit.syncedFile.ratioP50',
      value: p(times.synced, 50) / p(times.plain, 50),
      unit: 'ratio',
      note: 'the design not taken: an fdatasync’d audit file before the ack',
    },
  ];
}

export const suite: BenchSuite = { name: 'audit', run };
