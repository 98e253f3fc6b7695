import { createHash } from 'node:crypto';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { stageSchema } from '../queue/jobModel';
import { processIdentitySchema } from './processIdentity';
import { MAX_SOCKET_PATH_BYTES, socketDirectory } from '../session/socketPath';
import { JobError } from '../queue/jobErrors';
import { splitLines } from '../lineSplitter';

/**
 * What the host and a detached supervisor say to each other, and what a supervisor writes to a
 * job's own journal. Shared by both ends (src/supervisor bundles it), so they cannot drift apart.
 *
 * Channel: newline-delimited JSON over a Unix socket (a named pipe on Windows) in the same private
 * folder QueueSession uses. Host to supervisor: `hello`, `run`, `kill`, `exit`. Supervisor to host:
 * `hello` (with the job it owns, if any); for a `run`, `accepted` once the job's `started` record is
 * on disk, `busy` or `refused` (no journal could be created); `idle` once a job's exit is on disk
 * and it can take the next; and `wrote` after each
 * durable journal append, a nudge to read the journal now rather than at the next poll. The
 * journal, not the socket, is the source of truth: a host that missed messages loses nothing.
 */
/** 2: every connection opens with the handshake of supervisorAuth.ts (issue 14, item 11). */
export const SUPERVISOR_PROTOCOL_VERSION = 2;

export const runRequestSchema = z.object({
  jobId: z.string().min(1),
  attempt: z.number().int().nonnegative(),
  stages: z.array(stageSchema).min(1),
  fromStage: z.number().int().nonnegative(),
  checkpoint: z.string().optional(),
});

/**
 * What VS Code closing for good does to a running job: without this, it finishes on its own; with
 * it, its supervisor stops it once no live host has held the lease (`<leaseDir>/queue.lease`,
 * judged stale by the lease's own rules) for `afterMs`.
 */
export const stopWithoutHostSchema = z.object({ afterMs: z.number().int().positive(), leaseDir: z.string().min(1), leaseStaleAfterMs: z.number().int().positive() });
export type StopWithoutHost = z.infer<typeof stopWithoutHostSchema>;

export const hostMessageSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('hello'), protocol: z.number().int() }),
  z.object({
    op: z.literal('run'),
    request: runRequestSchema,
    journalPath: z.string().min(1),
    logPath: z.string().min(1),
    logLimitBytes: z.number().int().positive(),
    heartbeatMs: z.number().int().positive(),
    // Optional, so a supervisor of an older build ignores it and lets the job finish.
    stopWithoutHost: stopWithoutHostSchema.optional(),
    // A stop sends SIGTERM, then SIGKILL after a stage's own grace or this one. Optional: an older
    // supervisor ignores it and kills at once, as it always did; without it, DEFAULT_KILL_GRACE_MS.
    killGraceMs: z.number().int().nonnegative().optional(),
  }),
  z.object({ op: z.literal('kill'), jobId: z.string() }),
  z.object({ op: z.literal('exit') }),
]);
export type HostMessage = z.infer<typeof hostMessageSchema>;

const ownedJobSchema = z.object({ jobId: z.string(), attempt: z.number().int(), journalPath: z.string() });
export const supervisorMessageSchema = z.discriminatedUnion('ev', [
  z.object({ ev: z.literal('hello'), protocol: z.number().int(), pid: z.number().int(), job: ownedJobSchema.nullable() }),
  z.object({ ev: z.literal('accepted'), jobId: z.string(), attempt: z.number().int() }),
  z.object({ ev: z.literal('busy'), jobId: z.string() }),
  /** It could not create the job's journal; nothing ran. */
  z.object({ ev: z.literal('refused'), jobId: z.string(), error: z.string() }),
  z.object({ ev: z.literal('wrote'), jobId: z.string() }),
  /** Its job's exit is on disk and it takes the next one. */
  z.object({ ev: z.literal('idle') }),
]);
export type SupervisorMessage = z.infer<typeof supervisorMessageSchema>;

/**
 * One record of a job's journal (framed by the storage core's journal, payload JSON). `at` is the
 * supervisor's wall clock in ms. `started` names the supervisor (pid, start time, socket) so that
 * a new host can find it; `stageStarted` names the stage's process group leader so that an
 * orphaned group can be stopped; exactly one `exited` ends a job. The host takes a job's start
 * and finish times (and so its duration) from `started.at` and `exited.at`, written by the process
 * that saw them, never from when it noticed: a job may end while no host is alive.
 */
export const jobRecordSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('started'), at: z.number(), jobId: z.string(), attempt: z.number().int(), supervisor: processIdentitySchema, socketPath: z.string(), fromStage: z.number().int() }),
  z.object({ t: z.literal('stageStarted'), at: z.number(), stage: z.number().int(), process: processIdentitySchema.optional() }),
  z.object({ t: z.literal('heartbeat'), at: z.number() }),
  z.object({ t: z.literal('progress'), at: z.number(), fraction: z.number().optional(), message: z.string().optional() }),
  z.object({ t: z.literal('checkpoint'), at: z.number(), checkpoint: z.string() }),
  z.object({ t: z.literal('stageFinished'), at: z.number(), stage: z.number().int(), exitCode: z.number().int().nullable(), signal: z.string().nullable() }),
  /** `stoppedWithoutHost`: its supervisor stopped it because no host held the lease for `afterMs`; the job did not fail. */
  z.object({ t: z.literal('exited'), at: z.number(), exitCode: z.number().int().nullable(), signal: z.string().nullable(), error: z.string().optional(), stoppedWithoutHost: z.object({ afterMs: z.number() }).optional() }),
]);
export type JobRecord = z.infer<typeof jobRecordSchema>;

/** Why a job was stopped with no host, in its log, its result and the host's log. */
export function stoppedWithoutHostMessage(afterMs: number): string {
  return `stopped because no VS Code window held the queue for ${afterMs / 1000} s`;
}

/** `<dir>/<safe jobId>.<attempt>.journal` and `.log`: one pair per attempt, found again by name. */
export function jobFilePaths(jobsDir: string, jobId: string, attempt: number): { journalPath: string; logPath: string } {
  const base = join(jobsDir, `${encodeURIComponent(jobId)}.${attempt}`);
  return { journalPath: `${base}.journal`, logPath: `${base}.log` };
}

/** Every file of a run: its journal, log, the log of an earlier run with its number, and its checkpoint file. */
const JOB_FILE = /^(.+)\.(\d+)\.(?:journal|log|previous\.log|checkpoint|checkpoint\.tmp)$/;

/** The job whose run file `name` (a name in the jobs folder) is; undefined for any other file. */
export function jobIdOfFile(name: string): string | undefined {
  const match = JOB_FILE.exec(name);
  if (!match?.[1]) return undefined;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return undefined;
  }
}

/**
 * Resume and retry count attempts from the start again, so a run can meet the files of an earlier
 * run with the same attempt number. That run is over and the queue holds its result: its journal
 * goes (or this run would be read as that one), its output stays beside the new log. Returns the
 * error when the files could not be moved.
 */
export function retireEarlierRun(journalPath: string, logPath: string): unknown {
  try {
    // Checked first: on the way to every job's start, and the files are usually not there.
    if (existsSync(journalPath)) rmSync(journalPath, { force: true });
    if (existsSync(logPath)) renameSync(logPath, logPath.replace(/\.log$/, '.previous.log'));
    return undefined;
  } catch (error) {
    return error;
  }
}

/** A supervisor's socket: short, private, named by a hash of the jobs folder plus its own id. */
export function supervisorSocketPath(jobsDir: string, supervisorId: string, directory = socketDirectory()): string {
  const name = `lifeline-sup-${createHash('sha256').update(jobsDir).digest('hex').slice(0, 12)}-${supervisorId.slice(0, 12)}`;
  if (process.platform === 'win32') return `\\\\.\\pipe\\${name}`;
  const path = join(directory, `${name}.sock`);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw new JobError('socketPathTooLong', `The supervisor socket path ${path} is ${Buffer.byteLength(path)} bytes; the limit is ${MAX_SOCKET_PATH_BYTES}. Set XDG_RUNTIME_DIR or TMPDIR to a shorter folder.`);
  }
  return path;
}

/** Splits a byte stream into lines and hands each parsed, validated message on; junk is dropped. */
export function lineReader<T>(schema: z.ZodType<T>, onMessage: (message: T) => void): (chunk: Buffer | string) => void {
  return splitLines((line) => {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      return;
    }
    const parsed = schema.safeParse(raw);
    if (parsed.success) onMessage(parsed.data);
  });
}
