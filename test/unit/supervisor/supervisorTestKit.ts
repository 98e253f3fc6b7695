import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Job } from '../../../src/core/jobs/jobModel';
import { JobJournalReader } from '../../../src/core/jobs/jobJournalReader';
import { stopOrphanedGroup } from '../../../src/core/jobs/processIdentity';
import { socketDirectory } from '../../../src/core/jobs/socketPath';
import type { JobRecord } from '../../../src/core/jobs/supervisorProtocol';
import { jobFilePaths } from '../../../src/core/jobs/supervisorProtocol';

/**
 * The real supervisor entry, as tsc compiled it (out/src/supervisor/main.js); set
 * LIFELINE_SUPERVISOR_SCRIPT=dist/supervisor.js to run the same tests against the shipped bundle.
 */
export const supervisorScript = process.env.LIFELINE_SUPERVISOR_SCRIPT ?? join(__dirname, '..', '..', '..', 'src', 'supervisor', 'main.js');

/** Alive and not a zombie: in a container nobody may reap an orphan that was killed. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!(await condition())) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what} not met in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export function jobRecords(jobsDir: string, jobId: string, attempt = 1): JobRecord[] {
  return new JobJournalReader(jobFilePaths(jobsDir, jobId, attempt).journalPath).read();
}

/**
 * Teardown: kills every supervisor started for `jobsDir` (found by its socket name on its command
 * line, since it runs in its own session) and every stage process group its journals name.
 */
export function killSupervisorsOf(jobsDir: string): void {
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
    for (const record of new JobJournalReader(join(jobsDir, file)).read()) if (record.t === 'stageStarted') stopOrphanedGroup(record.process);
  }
}

/** One host-side process (fixtures/hostProcess.ts), driven over stdin and stdout. */
export class HostProcess {
  readonly messages: Record<string, unknown>[] = [];
  private readonly waiters: { match: (message: Record<string, unknown>) => boolean; resolve: (message: Record<string, unknown>) => void }[] = [];
  readonly exited: Promise<void>;
  stderr = '';

  private constructor(
    readonly label: string,
    readonly child: ChildProcess,
  ) {
    let buffered = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      buffered += chunk;
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const message = JSON.parse(buffered.slice(0, newline)) as Record<string, unknown>;
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
        this.messages.push(message);
        for (const waiter of [...this.waiters]) {
          if (waiter.match(message)) {
            this.waiters.splice(this.waiters.indexOf(waiter), 1);
            waiter.resolve(message);
          }
        }
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  static start(storageDir: string, jobsDir: string, label: string): HostProcess {
    const config = { storageDir, jobsDir, supervisorScript, label };
    const child = spawn(process.execPath, [join(__dirname, 'fixtures', 'hostProcess.js'), JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'pipe'] });
    return new HostProcess(label, child);
  }

  next(match: (message: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const seen = this.messages.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.label}: no matching message in time; stderr: ${this.stderr}`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (message) => {
          clearTimeout(timer);
          resolve(message);
        },
      });
    });
  }

  holder(): Promise<unknown> {
    return this.next((m) => m.ev === 'role' && m.role === 'holder');
  }

  async exec(command: Record<string, unknown>): Promise<Record<string, unknown>> {
    const commandId = randomUUID();
    this.child.stdin?.write(`${JSON.stringify({ op: 'exec', commandId, command })}\n`);
    return this.next((m) => m.ev === 'result' && m.commandId === commandId);
  }

  async job(jobId: string): Promise<Job | undefined> {
    const marker = this.messages.length;
    this.child.stdin?.write(`${JSON.stringify({ op: 'jobs' })}\n`);
    const message = await this.next((m) => m.ev === 'jobs' && this.messages.indexOf(m) >= marker);
    return (message.jobs as Job[]).find((job) => job.id === jobId);
  }

  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}
