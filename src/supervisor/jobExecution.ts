import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { CHECKPOINT_POLL_MS, CheckpointFile, checkpointFilePath } from '../core/jobs/checkpointFile';
import { parseJobLine } from '../core/jobs/jobRunner';
import type { RunRequest } from '../core/jobs/jobRunner';
import { identifyProcess } from '../core/jobs/processIdentity';
import { killProcessTree } from '../core/jobs/processTree';
import type { JobRecord, StopWithoutHost } from '../core/jobs/supervisorProtocol';
import { stoppedWithoutHostMessage } from '../core/jobs/supervisorProtocol';
import { createJournalFile, Journal } from '../core/storage/journal';
import { CappedLog } from './cappedLog';
import type { HostWatchVerdict } from './hostWatch';
import { HostWatch } from './hostWatch';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type Exit = { exitCode: number | null; signal: string | null; error?: string; stoppedWithoutHost?: { afterMs: number } };

export interface ExecutionOptions {
  readonly request: RunRequest;
  readonly journalPath: string;
  readonly logPath: string;
  readonly logLimitBytes: number;
  readonly heartbeatMs: number;
  /** How often the job's checkpoint file is looked at. @default CHECKPOINT_POLL_MS */
  readonly checkpointPollMs?: number;
  readonly socketPath: string;
  /** Stop the job once no host has held the lease for a grace period; undefined lets it finish on its own. */
  readonly stopWithoutHost?: StopWithoutHost;
  /** Called after each record is on disk, so that a connected host reads it at once. */
  readonly onWrote: () => void;
  /**
   * Called once the exit is on disk, before the host is nudged: from then on the supervisor is free,
   * so a host that read the exit and sends the next job at once is never told it is busy.
   */
  readonly onExitRecorded: () => void;
}

/**
 * One job run by a supervisor: its stages in order, each the leader of its own process group, with
 * every fact appended to the job's own journal before anyone is told of it. It needs no host: the
 * exit record is written whether or not anyone listens.
 */
export class JobExecution {
  private journal: Journal | undefined;
  private child: ChildProcess | undefined;
  private killed = false;
  private log: CappedLog | undefined;
  /** Named to every stage as LIFELINE_CHECKPOINT_FILE; one per run, beside its journal. */
  private readonly checkpointFile: CheckpointFile;
  private readonly hostWatch: HostWatch | undefined;
  private hostVerdict: HostWatchVerdict = 'held';
  private stoppedWithoutHost = false;

  constructor(private readonly options: ExecutionOptions) {
    this.checkpointFile = new CheckpointFile(checkpointFilePath(options.journalPath), options.request.checkpoint);
    this.hostWatch = options.stopWithoutHost ? new HostWatch(options.stopWithoutHost) : undefined;
  }

  get jobId(): string {
    return this.options.request.jobId;
  }

  /**
   * Creates the journal and records `started` (who owns the job, and where to reach it). The host
   * hears that the job was accepted only after this, so an accepted job can always be found again.
   */
  async open(): Promise<void> {
    const { request, journalPath } = this.options;
    mkdirSync(dirname(journalPath), { recursive: true, mode: 0o700 });
    this.journal = new Journal(await createJournalFile(journalPath, 1, undefined), 0);
    // The journal's exclusive create proved this run new: a checkpoint file by its name is an earlier run's.
    this.checkpointFile.reset();
    await this.record({ t: 'started', jobId: request.jobId, attempt: request.attempt, supervisor: identifyProcess(process.pid), socketPath: this.options.socketPath, fromStage: request.fromStage });
  }

  /** Runs the stages after `open`, and records the one `exited`. */
  async run(): Promise<void> {
    const { request } = this.options;
    const journal = this.journal;
    if (!journal) throw new Error('the job execution was not opened');
    let exit: Exit = { exitCode: 0, signal: null };
    let log: CappedLog | undefined;
    const heartbeat = setInterval(() => {
      void this.record({ t: 'heartbeat' });
      this.watchHost();
    }, this.options.heartbeatMs);
    const checkpointPoll = setInterval(() => void this.readCheckpointFile(false), this.options.checkpointPollMs ?? CHECKPOINT_POLL_MS);
    try {
      log = this.log = new CappedLog(this.options.logPath, this.options.logLimitBytes);
      for (let index = request.fromStage; index < request.stages.length && !this.killed; index++) {
        exit = await this.runStage(index, log);
        if (exit.exitCode !== 0 || exit.error !== undefined) break;
      }
      if (this.killed && exit.exitCode === 0 && exit.signal === null) exit = { exitCode: null, signal: 'SIGKILL' };
      if (this.stoppedWithoutHost && this.hostWatch) {
        const { afterMs } = this.hostWatch;
        exit = { ...exit, error: stoppedWithoutHostMessage(afterMs), stoppedWithoutHost: { afterMs } };
      }
    } catch (error) {
      exit = { exitCode: null, signal: null, error: `the supervisor failed: ${error instanceof Error ? error.message : String(error)}` };
    } finally {
      clearInterval(heartbeat);
      clearInterval(checkpointPoll);
      this.log = undefined;
      log?.close();
    }
    // The output is complete in its file before the exit is on record.
    await this.record({ t: 'exited', ...exit });
    await journal.close();
  }

  /** On each heartbeat: says in the job's log when the countdown starts and stops, and stops the job when it runs out. */
  private watchHost(): void {
    if (!this.hostWatch || this.killed) return;
    const verdict = this.hostWatch.check();
    const seconds = this.hostWatch.afterMs / 1000;
    if (verdict === 'counting' && this.hostVerdict === 'held') this.note(`no VS Code window holds the queue; the job stops in ${seconds} s unless one opens`);
    else if (verdict === 'held' && this.hostVerdict !== 'held') this.note('a VS Code window holds the queue again; the job goes on');
    this.hostVerdict = verdict;
    if (verdict !== 'expired') return;
    this.note(stoppedWithoutHostMessage(this.hostWatch.afterMs));
    this.stoppedWithoutHost = true;
    this.kill();
  }

  private note(text: string): void {
    this.log?.write(Buffer.from(`\n[lifeline: ${text}]\n`));
  }

  kill(): void {
    this.killed = true;
    if (this.child?.pid !== undefined) killProcessTree(this.child.pid);
  }

  private async record(record: DistributiveOmit<JobRecord, 'at'>): Promise<void> {
    const payload = Buffer.from(JSON.stringify({ ...record, at: Date.now() }));
    await this.journal?.append(payload, () => undefined);
    if (record.t === 'exited') this.options.onExitRecorded();
    this.options.onWrote();
  }

  private runStage(index: number, log: CappedLog): Promise<Exit> {
    const { request } = this.options;
    const stage = request.stages[index];
    if (!stage) return Promise.resolve({ exitCode: null, signal: null, error: 'no such stage' });
    // The supervisor's runtime switch must not leak into jobs, which may start Electron apps.
    const { ELECTRON_RUN_AS_NODE: _ignored, ...baseEnv } = process.env;
    return new Promise((resolve) => {
      const child = spawn(stage.command, {
        cwd: stage.cwd,
        env: { ...baseEnv, ...stage.env, LIFELINE_JOB_ID: request.jobId, LIFELINE_ATTEMPT: String(request.attempt), LIFELINE_STAGE: stage.name, LIFELINE_CHECKPOINT_FILE: this.checkpointFile.path, ...(request.checkpoint !== undefined ? { LIFELINE_CHECKPOINT: request.checkpoint, LIFELINE_RESUME: request.checkpoint } : {}) },
        shell: true,
        detached: true, // its own process group, so one kill reaches every descendant
        stdio: ['ignore', 'pipe', 'pipe'],
        windowsHide: true,
      });
      this.child = child;
      let settled = false;
      const settle = (exit: Exit): void => {
        if (settled) return;
        settled = true;
        this.child = undefined;
        resolve(exit);
      };
      child.once('error', (error) => settle({ exitCode: null, signal: null, error: `could not start: ${error.message}` }));
      const started = new Promise<void>((resolveStarted) =>
        child.once('spawn', () => {
          if (this.killed && child.pid !== undefined) killProcessTree(child.pid);
          void this.record({ t: 'stageStarted', stage: index, process: child.pid === undefined ? undefined : identifyProcess(child.pid) }).then(resolveStarted, resolveStarted);
        }),
      );
      let buffered = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        log.write(chunk);
        buffered += chunk.toString('utf8');
        let newline = buffered.indexOf('\n');
        while (newline >= 0) {
          this.onLine(buffered.slice(0, newline).replace(/\r$/, ''));
          buffered = buffered.slice(newline + 1);
          newline = buffered.indexOf('\n');
        }
      });
      child.stderr?.on('data', (chunk: Buffer) => log.write(chunk));
      // 'close', not 'exit': all output has been read by then. The stage's start is on record
      // before its end, whatever order the kernel reports them in.
      child.once('close', (code, signal) => {
        void started.then(async () => {
          // What the stage last wrote to its checkpoint file belongs to it, before its end.
          await this.readCheckpointFile(true);
          await this.record({ t: 'stageFinished', stage: index, exitCode: code, signal });
          settle({ exitCode: code, signal });
        });
      });
    });
  }

  private onLine(line: string): void {
    const parsed = parseJobLine(line);
    if (!parsed) return;
    if (parsed.kind === 'checkpoint') {
      this.checkpointFile.noteCheckpoint(parsed.checkpoint);
      void this.record({ t: 'checkpoint', checkpoint: parsed.checkpoint });
    } else {
      void this.record({ t: 'progress', fraction: parsed.fraction, ...(parsed.message !== undefined ? { message: parsed.message } : {}) });
    }
  }

  /** Records the checkpoint file's content when it changed; a bad file is a warning in the job's log, never a failure. */
  private async readCheckpointFile(force: boolean): Promise<void> {
    const reading = this.checkpointFile.read(force);
    if (!reading) return;
    if ('warning' in reading) this.log?.write(Buffer.from(`\n[lifeline: ${reading.warning}]\n`));
    else await this.record({ t: 'checkpoint', checkpoint: reading.checkpoint });
  }
}
