import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Job } from '../../../src/core/queue/jobModel';
import { isKeyError } from '../../../src/core/storage/sealedLog';
import type { JobFileKey } from '../../../src/core/storage/sealedLog';
import { JobJournalReader } from '../../../src/core/supervisors/jobJournalReader';
import { readLease } from '../../../src/core/session/lease';
import { stopOrphanedGroup } from '../../../src/shared/supervisor/node/processIdentity';
import { socketDirectory } from '../../../src/core/session/socketPath';
import { DrivenProcess } from '../drivenProcess';
import { jobFilePaths } from '../../../src/shared/supervisor/node/jobFilePaths';
import type { JobRecord } from '../../../src/shared/supervisor/supervisorWire';

/**
 * The real supervisor entry, as tsc compiled it (out/src/supervisor/main.js); set
 * LIFELINE_SUPERVISOR_SCRIPT=dist/supervisor.js to run the same tests against the shipped bundle.
 */
export const supervisorScript = process.env.LIFELINE_SUPERVISOR_SCRIPT ?? join(__dirname, '..', '..', '..', 'src', 'supervisor', 'main.js');

export async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!(await condition())) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what} not met in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Waits until the queue `queue()` gives holds the job in one of `states`, and returns it. */
export async function untilJobState(
  queue: () => { getJob(id: string): Job | undefined } | undefined,
  id: string,
  states: readonly Job['state'][],
  timeoutMs = 8000,
): Promise<Job> {
  let job: Job | undefined;
  await waitUntil(
    () => (job = queue()?.getJob(id)) !== undefined && states.includes(job.state),
    timeoutMs,
    `job ${id} is ${states.join('|')}`,
  );
  return job as Job;
}

export function jobRecords(jobsDir: string, jobId: string, attempt = 1): JobRecord[] {
  return JobJournalReader.readAll(jobFilePaths(jobsDir, jobId, attempt).journalPath);
}

/**
 * Teardown: kills every supervisor started for `jobsDir` (found by its socket name on its command
 * line, since it runs in its own session) and every stage process group its journals name.
 */
export function killSupervisorsOf(jobsDir: string, cipher?: JobFileKey): void {
  const marker = `lifeline-sup-${createHash('sha256').update(jobsDir).digest('hex').slice(0, 12)}`;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) process.kill(Number(entry), 'SIGKILL');
    } catch {
      // gone already
    }
  }
  // A SIGKILLed supervisor leaves its socket behind.
  for (const file of readdirSync(socketDirectory())) if (file.startsWith(marker)) rmSync(join(socketDirectory(), file), { force: true });
  let files: string[];
  try {
    files = readdirSync(jobsDir).filter((file) => file.endsWith('.journal'));
  } catch {
    return;
  }
  for (const file of files) {
    let records;
    try {
      records = JobJournalReader.readAll(join(jobsDir, file), cipher);
    } catch (error) {
      // A journal sealed with a key no runtime of the test had any more: its supervisor was killed above.
      if (isKeyError(error)) continue;
      throw error;
    }
    for (const record of records) if (record.t === 'stageStarted') stopOrphanedGroup(record.process);
  }
}

/** One host-side process (fixtures/hostProcess.ts), driven over stdin and stdout. */
export class HostProcess extends DrivenProcess {
  /** The runtime it opens keeps its jobs in `<storageDir>/jobs`. */
  static start(storageDir: string, label: string, options: { killGraceMs?: number } = {}): HostProcess {
    const config = { storageDir, supervisorScript, label, ...options };
    return new HostProcess(label, DrivenProcess.spawnScript(join(__dirname, 'fixtures', 'hostProcess.js'), config));
  }

  holder(): Promise<unknown> {
    return this.next((m) => m.ev === 'role' && m.role === 'holder');
  }

  async job(jobId: string): Promise<Job | undefined> {
    const message = await this.request('jobs', 'jobs');
    return (message.jobs as Job[]).find((job) => job.id === jobId);
  }
}

/**
 * A storage folder per test for host processes started with `startHost` (each awaited as the
 * queue's holder), all killed after the test with their supervisors, the last holder's socket and
 * the folder. Call inside a `describe`; read `dir` and `jobsDir` inside a test or hook.
 */
export function useHostFolder(prefix: string): {
  readonly dir: string;
  readonly jobsDir: string;
  startHost(label: string, options?: { killGraceMs?: number }): Promise<HostProcess>;
} {
  let dir = '';
  let hosts: HostProcess[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
    hosts = [];
  });
  afterEach(async () => {
    for (const host of hosts) await host.kill();
    killSupervisorsOf(join(dir, 'jobs'));
    // The last holder was killed: nobody took over to remove its socket.
    const lease = await readLease(dir);
    if (lease?.socketPath) rmSync(lease.socketPath, { force: true });
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    get dir() {
      return dir;
    },
    get jobsDir() {
      return join(dir, 'jobs');
    },
    async startHost(label, options = {}) {
      const host = HostProcess.start(dir, label, options);
      hosts.push(host);
      await host.holder();
      return host;
    },
  };
}
