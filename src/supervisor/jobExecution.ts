import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseJobLine } from '../shared/supervisor/jobLine';
import { CHECKPOINT_POLL_MS, CheckpointFile, checkpointFilePath } from '../shared/supervisor/node/checkpointFile';
import type { ProcessIdentity } from '../shared/supervisor/node/processIdentity';
import { identifyProcess } from '../shared/supervisor/node/processIdentity';
import { DEFAULT_KILL_GRACE_MS, killProcessTree, signalProcessTree } from '../shared/supervisor/node/processTree';
import type { JobRecord, StopWithoutHost, WireRunRequest } from '../shared/supervisor/supervisorWire';
import { stoppedWithoutHostMessage } from '../shared/supervisor/supervisorWire';
import { fsyncDirectory } from '../core/storage/atomicFile';
import { AckMark, jobAckMarkPath } from '../core/storage/ackMark';
import type { RecordCipher } from '../core/storage/cipher';
import { createJournalFileSync, Journal } from '../core/storage/journal';
import { CappedLog } from './cappedLog';
import type { StageShells } from './stageShell';
import type { HostWatchVerdict } from './hostWatch';
import { HostWatch } from './hostWatch';

const madeDirectories = new Set<string>();

/** The jobs folder, made once per supervisor rather than once per job. */
function ensureDirectory(path: string): void {
  if (madeDirectories.has(path)) return;
  mkdirSync(path, { recursive: true, mode: 0o700 });
  madeDirectories.add(path);
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type Exit = { exitCode: number | null; signal: string | null; error?: string; stoppedWithoutHost?: { afterMs: number } };
type StageEnd = Exit & { readonly recorded: Promise<void> };

export interface ExecutionOptions {
  readonly request: WireRunRequest;
  readonly journalPath: string;
  readonly logPath: string;
  readonly logLimitBytes: number;
  /** Seals the journal's records and the log's output (docs/encryption-job-files.md); undefined writes them plain. */
  readonly cipher?: RecordCipher;
  readonly heartbeatMs: number;
  /** How often the job's checkpoint file is looked at. @default CHECKPOINT_POLL_MS */
  readonly checkpointPollMs?: number;
  readonly socketPath: string;
  /** Who runs the job: this supervisor, named in `started`. */
  readonly supervisor: ProcessIdentity;
  /** The environment every stage starts from (the supervisor's own, without its runtime switch). */
  readonly baseEnv: NodeJS.ProcessEnv;
  /** Shells waiting to run a stage (POSIX); without one, each stage is spawned. */
  readonly stageShells?: StageShells;
  /** Stop the job once no host has held the lease for a grace period; undefined lets it finish on its own. */
  readonly stopWithoutHost?: StopWithoutHost;
  /** Between SIGTERM and SIGKILL for a stage without its own. @default DEFAULT_KILL_GRACE_MS */
  readonly killGraceMs?: number;
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
  private ackMark: AckMark | undefined;
  private child: ChildProcess | undefined;
  /** The stage `child` runs: its grace applies when it is stopped. */
  private childStage = 0;
  private killed = false;
  /** Armed by a stop between its SIGTERM and SIGKILL; a second stop does not restart it. */
  private killTimer: NodeJS.Timeout | undefined;
  /** The strongest signal a stop sent: the exit's signal when the job ended cleanly anyway. */
  private stopSignal: 'SIGTERM' | 'SIGKILL' | undefined;
  private log: CappedLog | undefined;
  /** Named to every stage as LIFELINE_CHECKPOINT_FILE; one per run, beside its journal. */
  private readonly checkpointFile: CheckpointFile;
  private readonly hostWatch: HostWatch | undefined;
  private hostVerdict: HostWatchVerdict = 'held';
  private stoppedWithoutHost = false;
  /** The journal's directory entry on disk: no record is acknowledged before it. Begun once the first stage is spawned. */
  private directorySynced: Promise<void> | undefined;
  /** Resolves once `started` (and the directory entry) is on disk; rejects when it cannot be. */
  startedDurable: Promise<void> = Promise.resolve();

  constructor(private readonly options: ExecutionOptions) {
    this.checkpointFile = new CheckpointFile(checkpointFilePath(options.journalPath), options.request.checkpoint);
    this.hostWatch = options.stopWithoutHost ? new HostWatch(options.stopWithoutHost) : undefined;
  }

  get jobId(): string {
    return this.options.request.jobId;
  }

  /**
   * Creates the journal exclusively (the point where a run is refused) and queues `started` (who
   * owns the job, and where to reach it), without waiting for the disk: `run` starts the first
   * stage at once, and its `stageStarted` goes out with the header and `started` in one write,
   * made on this thread right after the spawn, and one fdatasync, while the directory entry is
   * synced alongside. The host hears that the job was accepted only once `startedDurable`
   * resolves, so an accepted job can always be found again. A supervisor that dies before that
   * leaves the stage's identity in the file (the page cache, which the host reads), so the host
   * stops its group (SupervisorRunner.start); a machine that dies takes the stage with it.
   */
  async open(): Promise<void> {
    const { request, journalPath } = this.options;
    ensureDirectory(dirname(journalPath));
    const journal = new Journal(createJournalFileSync(journalPath, 1, this.options.cipher), 0, { writeOnCallingThread: true });
    this.journal = journal;
    // The acknowledged end, beside the journal: so a cut after the fact is not read as a run that stopped there.
    this.ackMark = new AckMark(
      jobAckMarkPath(journalPath),
      () => journal.end,
      () => undefined,
    );
    // The journal's exclusive create proved this run new: a checkpoint file by its name is an earlier run's.
    this.checkpointFile.reset();
    this.startedDurable = this.record({
      t: 'started',
      jobId: request.jobId,
      attempt: request.attempt,
      supervisor: this.options.supervisor,
      socketPath: this.options.socketPath,
      fromStage: request.fromStage,
    });
    this.startedDurable.catch(() => undefined);
  }

  /** Runs the stages after `open`, and records the one `exited`. */
  async run(): Promise<void> {
    const { request } = this.options;
    const journal = this.journal;
    if (!journal) throw new Error('the job execution was not opened');
    let exit: Exit = { exitCode: 0, signal: null };
    const stageRecords: Promise<void>[] = [];
    const heartbeat = setInterval(() => {
      // A record that cannot be written is the journal's to report (the exit record fails too); never a crash here.
      this.record({ t: 'heartbeat' }).catch(() => undefined);
      this.watchHost();
    }, this.options.heartbeatMs);
    const checkpointPoll = setInterval(
      () => void this.readCheckpointFile(false).catch(() => undefined),
      this.options.checkpointPollMs ?? CHECKPOINT_POLL_MS,
    );
    try {
      for (let index = request.fromStage; index < request.stages.length && !this.killed; index++) {
        const { recorded, ...end } = await this.runStage(index);
        stageRecords.push(recorded);
        exit = end;
        if (exit.exitCode !== 0 || exit.error !== undefined) break;
      }
      if (this.killed && exit.exitCode === 0 && exit.signal === null) exit = { exitCode: null, signal: this.stopSignal ?? 'SIGKILL' };
      if (this.stoppedWithoutHost && this.hostWatch) {
        const { afterMs } = this.hostWatch;
        exit = { ...exit, error: stoppedWithoutHostMessage(afterMs), stoppedWithoutHost: { afterMs } };
      }
    } catch (error) {
      exit = { exitCode: null, signal: null, error: `the supervisor failed: ${error instanceof Error ? error.message : String(error)}` };
    } finally {
      clearInterval(heartbeat);
      clearInterval(checkpointPoll);
      try {
        // A run that started no stage still leaves its (empty) log.
        (this.log ?? this.openLog()).close();
      } catch {
        // It could not be created: the exit record says why when a stage needed it.
      }
      this.log = undefined;
    }
    // The job writes its checkpoint file itself, in plain: with a key, it goes before the exit is on
    // record, its last content being sealed in the journal (read as each stage ended, awaited).
    if (this.options.cipher) this.checkpointFile.reset();
    // The output is complete in its file before the exit is on record. A stage's end is queued
    // before it, unawaited, so that both share one write and one sync.
    const exited = this.record({ t: 'exited', ...exit });
    await Promise.allSettled(stageRecords);
    await exited;
    await journal.close();
    this.ackMark?.close();
  }

  /** On each heartbeat: says in the job's log when the countdown starts and stops, and stops the job when it runs out. */
  private watchHost(): void {
    if (!this.hostWatch || this.killed) return;
    const verdict = this.hostWatch.check();
    const seconds = this.hostWatch.afterMs / 1000;
    if (verdict === 'counting' && this.hostVerdict === 'held') {
      this.note(`no VS Code window holds the queue; the job stops in ${seconds} s unless one opens`);
    } else if (verdict === 'held' && this.hostVerdict !== 'held') this.note('a VS Code window holds the queue again; the job goes on');
    this.hostVerdict = verdict;
    if (verdict !== 'expired') return;
    this.note(stoppedWithoutHostMessage(this.hostWatch.afterMs));
    this.stoppedWithoutHost = true;
    this.kill();
  }

  private note(text: string): void {
    this.log?.write(Buffer.from(`\n[lifeline: ${text}]\n`));
  }

  /**
   * Stops the job: no further stage runs, and the running stage's process group gets SIGTERM, then
   * SIGKILL once its grace has passed. This process does both, so the stop completes whether or not
   * a host is still there. Asking again while the grace runs changes nothing. `immediately`:
   * SIGKILL with no grace, for a run the host was told never started.
   */
  kill(options: { immediately?: boolean } = {}): void {
    this.killed = true;
    if (options.immediately && this.child?.pid !== undefined) return this.killChildGroup(this.child.pid);
    this.stopChild();
  }

  private stopChild(): void {
    const pid = this.child?.pid;
    if (pid === undefined || this.killTimer || this.stopSignal === 'SIGKILL') return;
    const graceMs = this.options.request.stages[this.childStage]?.killGraceMs ?? this.options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
    if (graceMs <= 0) return this.killChildGroup(pid);
    this.stopSignal = 'SIGTERM';
    this.note(`stopping: SIGTERM sent; SIGKILL in ${graceMs / 1000} s unless the stage's processes exit`);
    signalProcessTree(pid, 'SIGTERM');
    this.killTimer = setTimeout(() => {
      this.killTimer = undefined;
      this.note(`the stage's processes outlived the ${graceMs / 1000} s grace; SIGKILL sent`);
      this.killChildGroup(pid);
    }, graceMs);
  }

  private killChildGroup(pid: number): void {
    this.stopSignal = 'SIGKILL';
    killProcessTree(pid);
  }

  private async record(record: DistributiveOmit<JobRecord, 'at'>): Promise<void> {
    const payload = Buffer.from(JSON.stringify({ ...record, at: Date.now() }));
    await this.journal?.append(payload, () => undefined);
    this.ackMark?.note();
    await this.syncDirectory();
    if (record.t === 'exited') this.options.onExitRecorded();
    this.options.onWrote();
  }

  /** Syncs the journal's directory entry, once. */
  private syncDirectory(): Promise<void> {
    this.directorySynced ??= fsyncDirectory(dirname(this.options.journalPath));
    return this.directorySynced;
  }

  /** The job's log, created by the first stage right after its spawn: file creation can wait on the disk. */
  private openLog(): CappedLog {
    return (this.log ??= new CappedLog(this.options.logPath, this.options.logLimitBytes, this.options.cipher));
  }

  /** Resolves at the stage's end, with its `stageFinished` record queued (`recorded`). */
  private runStage(index: number): Promise<StageEnd> {
    const { request } = this.options;
    const stage = request.stages[index];
    if (!stage) return Promise.resolve({ exitCode: null, signal: null, error: 'no such stage', recorded: Promise.resolve() });
    const env: Record<string, string> = {
      ...stage.env,
      LIFELINE_JOB_ID: request.jobId,
      LIFELINE_ATTEMPT: String(request.attempt),
      LIFELINE_STAGE: stage.name,
      LIFELINE_CHECKPOINT_FILE: this.checkpointFile.path,
      ...(request.checkpoint !== undefined ? { LIFELINE_CHECKPOINT: request.checkpoint, LIFELINE_RESUME: request.checkpoint } : {}),
    };
    return new Promise((resolve) => {
      const child =
        this.options.stageShells?.launch(stage.command, stage.cwd, env) ??
        spawn(stage.command, {
          cwd: stage.cwd,
          env: { ...this.options.baseEnv, ...env },
          shell: true,
          detached: true, // its own process group, so one kill reaches every descendant
          stdio: ['ignore', 'pipe', 'pipe'],
          windowsHide: true,
        });
      this.child = child;
      this.childStage = index;
      // The next stage or job finds a shell waiting: readied now, while this one runs, rather
      // than when the job ends, where it would delay a job sent right after.
      setImmediate(() => this.options.stageShells?.prepare());
      let settled = false;
      const settle = (exit: StageEnd): void => {
        if (settled) return;
        settled = true;
        this.child = undefined;
        resolve(exit);
      };
      child.once('error', (error) =>
        settle({ exitCode: null, signal: null, error: `could not start: ${error.message}`, recorded: Promise.resolve() }),
      );
      // The process exists once spawn() returns with a pid: its identity is in the journal's file
      // (with `started`, for the first stage) before anything else happens here, so that a host
      // finds the process group even if this supervisor dies now; the sync runs in the background.
      if (child.pid !== undefined) {
        void this.record({ t: 'stageStarted', stage: index, process: identifyProcess(child.pid) }).catch(() => undefined);
        this.journal?.flushNow();
      }
      // Not before the spawn: the first stage need not wait on the disk, only `accepted` does.
      this.syncDirectory().catch(() => undefined);
      let log: CappedLog;
      try {
        log = this.openLog();
      } catch (error) {
        if (child.pid !== undefined) killProcessTree(child.pid);
        settle({
          exitCode: null,
          signal: null,
          error: `the supervisor failed: ${error instanceof Error ? error.message : String(error)}`,
          recorded: Promise.resolve(),
        });
        return;
      }
      if (this.killed) this.stopChild();
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
      // 'close', not 'exit': all output has been read by then. The stage's start was queued for
      // the journal at its spawn, so it is on record before its end, in the same write or earlier.
      child.once('close', (code, signal) => {
        // A stopped stage is over once its leader and everything holding its output are gone:
        // what is left of its group (a process that closed its output) gets no more grace.
        if (this.killTimer) {
          clearTimeout(this.killTimer);
          this.killTimer = undefined;
          if (child.pid !== undefined) killProcessTree(child.pid);
        }
        void (async () => {
          // What the stage last wrote to its checkpoint file belongs to it, before its end.
          await this.readCheckpointFile(true).catch(() => undefined);
          // Not awaited: the next stage's start or the exit record shares its write and sync.
          const recorded = this.record({ t: 'stageFinished', stage: index, exitCode: code, signal });
          recorded.catch(() => undefined);
          settle({ exitCode: code, signal, recorded });
        })();
      });
    });
  }

  private onLine(line: string): void {
    const parsed = parseJobLine(line);
    if (!parsed) return;
    if (parsed.kind === 'checkpoint') {
      this.checkpointFile.noteCheckpoint(parsed.checkpoint);
      this.record({ t: 'checkpoint', checkpoint: parsed.checkpoint }).catch(() => undefined);
    } else {
      this.record({ t: 'progress', fraction: parsed.fraction, ...(parsed.message !== undefined ? { message: parsed.message } : {}) }).catch(
        () => undefined,
      );
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
