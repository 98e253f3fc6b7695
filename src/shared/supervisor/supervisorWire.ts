import * as z from 'zod/mini';

/**
 * What the host and a detached supervisor say to each other, and what a supervisor writes to a
 * job's own journal: the wire format, defined once here for both ends (src/supervisor bundles it),
 * so they cannot drift apart. It has its own shapes of a stage and a process identity, only what a
 * supervisor needs, so that the queue's model can change without touching the wire; the host
 * translates at one place (src/core/supervisors/wireMapping.ts).
 *
 * Written with zod/mini: the detached process parses its bundle at every start, and the full zod
 * (locales, JSON Schema) was most of it. The host parses with these same schemas.
 *
 * Channel: newline-delimited JSON over a Unix socket (a named pipe on Windows) in the same private
 * folder QueueSession uses. Host to supervisor: `hello`, `run`, `kill`, `exit`. Supervisor to host:
 * `hello` (with the job it owns, if any); for a `run`, `accepted` once the job's `started` record is
 * on disk, `busy` or `refused` (no journal could be created); `idle` once a job's exit is on disk
 * and it can take the next; and `wrote` after each
 * durable journal append, a nudge to read the journal now rather than at the next poll. The
 * journal, not the socket, is the source of truth: a host that missed messages loses nothing.
 *
 * Nothing here may use Node: webviews type-check src/shared (node-using helpers are in ./node).
 */
/**
 * 2: every connection opens with the handshake of handshake.ts (docs/security.md).
 * 3: `run` may carry `encryptionKey`; a supervisor of 2 would ignore it and write the run in plain.
 */
export const SUPERVISOR_PROTOCOL_VERSION = 3;

const nonEmpty = () => z.string().check(z.minLength(1));

/**
 * A stage as the supervisor runs it. A host of an earlier build also sends the queue's other stage
 * fields (outputs, timeoutMs): they are dropped unread, as the supervisor never used them.
 */
export const wireStageSchema = z.object({
  name: nonEmpty(),
  command: nonEmpty(),
  /** Absolute. */
  cwd: nonEmpty(),
  env: z.optional(z.record(z.string(), z.string())),
  /** Between SIGTERM and SIGKILL when the stage is stopped; undefined: the run's `killGraceMs`. */
  killGraceMs: z.optional(z.number().check(z.nonnegative())),
});
export type WireStage = z.infer<typeof wireStageSchema>;

/**
 * Which process a supervisor or a running stage is, durably: pid, the kernel's start time of that
 * pid (so that a reused pid is never mistaken for it) and the host.
 */
export const wireProcessIdentitySchema = z.object({
  pid: z.int().check(z.positive()),
  startTime: z.optional(z.string()),
  host: z.string(),
});
export type WireProcessIdentity = z.infer<typeof wireProcessIdentitySchema>;

export const runRequestSchema = z.object({
  jobId: nonEmpty(),
  attempt: z.int().check(z.nonnegative()),
  stages: z.array(wireStageSchema).check(z.minLength(1)),
  /** Index of the first stage to run; earlier ones completed in an earlier attempt. */
  fromStage: z.int().check(z.nonnegative()),
  /** The job's last checkpoint, handed to the job as LIFELINE_CHECKPOINT. */
  checkpoint: z.optional(z.string()),
});
export type WireRunRequest = z.infer<typeof runRequestSchema>;

/**
 * What VS Code closing for good does to a running job: without this, it finishes on its own; with
 * it, its supervisor stops it once no live host has held the lease (`<leaseDir>/queue.lease`,
 * judged stale by the lease's own rules) for `afterMs`.
 */
export const stopWithoutHostSchema = z.object({
  afterMs: z.int().check(z.positive()),
  leaseDir: nonEmpty(),
  leaseStaleAfterMs: z.int().check(z.positive()),
});
export type StopWithoutHost = z.infer<typeof stopWithoutHostSchema>;

const runMessageSchema = z.object({
  op: z.literal('run'),
  request: runRequestSchema,
  journalPath: nonEmpty(),
  logPath: nonEmpty(),
  logLimitBytes: z.int().check(z.positive()),
  heartbeatMs: z.int().check(z.positive()),
  // Optional, so a supervisor of an older build ignores it and lets the job finish.
  stopWithoutHost: z.optional(stopWithoutHostSchema),
  // A stop sends SIGTERM, then SIGKILL after a stage's own grace or this one. Optional: an older
  // supervisor ignores it and kills at once, as it always did; without it, DEFAULT_KILL_GRACE_MS.
  killGraceMs: z.optional(z.int().check(z.nonnegative())),
  // The 32-byte AES key (base64) that seals this run's journal and log (docs/encryption-job-files.md).
  // Only ever sent over the authenticated socket; absent: the run is written in plain.
  encryptionKey: z.optional(z.string().check(z.minLength(1), z.maxLength(64))),
});
export type RunMessage = z.infer<typeof runMessageSchema>;

export const hostMessageSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('hello'), protocol: z.int() }),
  runMessageSchema,
  z.object({ op: z.literal('kill'), jobId: z.string() }),
  z.object({ op: z.literal('exit') }),
]);
export type HostMessage = z.infer<typeof hostMessageSchema>;

const ownedJobSchema = z.object({ jobId: z.string(), attempt: z.int(), journalPath: z.string() });
export const supervisorMessageSchema = z.discriminatedUnion('ev', [
  z.object({ ev: z.literal('hello'), protocol: z.int(), pid: z.int(), job: z.nullable(ownedJobSchema) }),
  z.object({ ev: z.literal('accepted'), jobId: z.string(), attempt: z.int() }),
  z.object({ ev: z.literal('busy'), jobId: z.string() }),
  /** It could not create the job's journal; nothing ran. */
  z.object({ ev: z.literal('refused'), jobId: z.string(), error: z.string() }),
  z.object({ ev: z.literal('wrote'), jobId: z.string() }),
  /** Its job's exit is on disk and it takes the next one. */
  z.object({ ev: z.literal('idle') }),
]);
export type SupervisorMessage = z.infer<typeof supervisorMessageSchema>;

const exitCode = () => z.nullable(z.int());

/**
 * One record of a job's journal (framed by the storage core's journal, payload JSON). `at` is the
 * supervisor's wall clock in ms. `started` names the supervisor (pid, start time, socket) so that
 * a new host can find it; `stageStarted` names the stage's process group leader so that an
 * orphaned group can be stopped; exactly one `exited` ends a job. The host takes a job's start
 * and finish times (and so its duration) from `started.at` and `exited.at`, written by the process
 * that saw them, never from when it noticed: a job may end while no host is alive.
 */
export const jobRecordSchema = z.discriminatedUnion('t', [
  z.object({
    t: z.literal('started'),
    at: z.number(),
    jobId: z.string(),
    attempt: z.int(),
    supervisor: wireProcessIdentitySchema,
    socketPath: z.string(),
    fromStage: z.int(),
  }),
  z.object({ t: z.literal('stageStarted'), at: z.number(), stage: z.int(), process: z.optional(wireProcessIdentitySchema) }),
  z.object({ t: z.literal('heartbeat'), at: z.number() }),
  z.object({ t: z.literal('progress'), at: z.number(), fraction: z.optional(z.number()), message: z.optional(z.string()) }),
  z.object({ t: z.literal('checkpoint'), at: z.number(), checkpoint: z.string() }),
  z.object({ t: z.literal('stageFinished'), at: z.number(), stage: z.int(), exitCode: exitCode(), signal: z.nullable(z.string()) }),
  /** `stoppedWithoutHost`: its supervisor stopped it because no host held the lease for `afterMs`; the job did not fail. */
  z.object({
    t: z.literal('exited'),
    at: z.number(),
    exitCode: exitCode(),
    signal: z.nullable(z.string()),
    error: z.optional(z.string()),
    stoppedWithoutHost: z.optional(z.object({ afterMs: z.number() })),
  }),
]);
export type JobRecord = z.infer<typeof jobRecordSchema>;

/** Why a job was stopped with no host, in its log, its result and the host's log. */
export function stoppedWithoutHostMessage(afterMs: number): string {
  return `stopped because no VS Code window held the queue for ${afterMs / 1000} s`;
}
