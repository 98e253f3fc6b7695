/**
 * Lifeline's extension API: what `activate()` returns, as another extension sees it.
 *
 *     const lifeline = vscode.extensions.getExtension<LifelineApi>('lifeline.lifeline');
 *     const api = await lifeline?.activate();
 *     if (api?.apiVersion === 1) { const notes = await api.openState('acme.notes', { schema }); }
 *
 * Copy this file into your extension (it imports nothing). `apiVersion` changes only when a change
 * would break a caller; fields added later are optional here. Kept in sync with the implementation
 * by a compile-time test (test/types/lifelineApi.types.ts, run by `npm run check-types`).
 * docs/state-api.md explains the state API.
 */

/** Anything with `dispose()`: a `vscode.Disposable` fits. */
export interface LifelineDisposable {
  dispose(): unknown;
}

/** A `vscode.Event`-shaped subscription. */
export type LifelineEvent<T> = (listener: (event: T) => unknown) => LifelineDisposable;

export interface LifelineApi {
  /** The version of this API's shape. */
  readonly apiVersion: 1;
  /** Lifeline's own version (package.json). */
  readonly version: string;
  /** Lifeline's folder for this workspace, or undefined when no folder is open. */
  readonly storageDirectory: string | undefined;
  /** This window's activation (each window has its own). */
  readonly activationId: string;
  /** The queue once open; undefined with no folder, in Restricted Mode, or while opening. */
  readonly queue: LifelineQueueApi | undefined;
  /** Resolves when the queue is open (or never can be: then undefined). */
  whenQueueReady(): Promise<LifelineQueueApi | undefined>;
  /** Resolves when the history is open in this window (it is where the queue is held), else undefined. */
  whenHistoryReady(): Promise<LifelineHistoryApi | undefined>;
  /**
   * Your own durable key-value namespace in the workspace's state store. Waits for the queue to
   * open, migrates the stored data to `options.version` (the highest migration's by default), and
   * rejects with a {@link LifelineStateError} (`unavailable` with no folder or in Restricted Mode).
   * Use your extension's id as the namespace.
   */
  openState<T = unknown>(namespace: string, options?: LifelineStateOptions<T>): Promise<LifelineState<T>>;
}

export type LifelineSessionRole = 'holder' | 'client' | 'connecting' | 'disposed';

export type LifelineJobState = 'queued' | 'delayed' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'interrupted';

/** A job as the queue shows it (the fields an API caller may rely on; the object carries more). */
export interface LifelineJob {
  readonly id: string;
  readonly name: string;
  readonly kind: 'command' | 'pipeline';
  readonly group: string;
  readonly state: LifelineJobState;
  readonly priority: number;
  readonly tags: readonly string[];
  readonly stages: readonly { readonly name: string; readonly command: string; readonly cwd: string }[];
  /** Epoch milliseconds. */
  readonly createdAt: number;
  readonly startedAt?: number;
  readonly finishedAt?: number;
  readonly attempts: number;
  readonly progress?: { readonly fraction?: number; readonly message?: string };
  readonly result?: { readonly exitCode: number | null; readonly signal: string | null; readonly error?: string };
}

/** A job definition as in `.vscode/lifeline.json`: a command, or named stages. */
export type LifelineJobDefinition = LifelineCommandJobDefinition | LifelinePipelineJobDefinition;

interface LifelineJobDefinitionCommon {
  name: string;
  /** Relative to the workspace folder unless absolute. */
  cwd?: string;
  env?: Record<string, string>;
  priority?: number;
  tags?: string[];
  timeoutSeconds?: number;
  killGraceSeconds?: number;
  retries?: { maxAttempts: number; backoff?: 'fixed' | 'exponential'; delaySeconds?: number; doNotRetryExitCodes?: number[] };
}

export interface LifelineCommandJobDefinition extends LifelineJobDefinitionCommon {
  command: string;
}

export interface LifelinePipelineJobDefinition extends LifelineJobDefinitionCommon {
  stages: {
    name: string;
    command: string;
    cwd?: string;
    env?: Record<string, string>;
    outputs?: string[];
    timeoutSeconds?: number;
    killGraceSeconds?: number;
  }[];
}

/** Every command the queue accepts; validated by Lifeline, which rejects a bad one with a typed error. */
export type LifelineQueueCommand =
  | {
      type: 'enqueue';
      definition: LifelineJobDefinition;
      /** Makes the enqueue take effect once, even when sent again. */
      jobId?: string;
      group?: string;
      /** Delayed start, epoch milliseconds. */
      runAt?: number;
      estimatedDurationMs?: number;
      baseDir?: string;
    }
  | { type: 'cancel' | 'retry' | 'resume' | 'discard'; jobId: string }
  | { type: 'move'; jobId: string; before: string; after?: undefined }
  | { type: 'move'; jobId: string; after: string; before?: undefined }
  | { type: 'setPriority'; jobId: string; priority: number }
  | { type: 'clearFinished' }
  | { type: 'setPaused'; paused: boolean }
  | { type: 'setAutoRun'; autoRun: boolean }
  | { type: 'setConcurrency'; limit: number };

export interface LifelineCommandResult {
  readonly jobId?: string;
  readonly count?: number;
}

/** The queue as other extensions see it. */
export interface LifelineQueueApi {
  readonly role: LifelineSessionRole;
  readonly jobs: readonly LifelineJob[];
  getJob(id: string): LifelineJob | undefined;
  /** Runs a command through the window that holds the queue; resolves once it is on disk. */
  execute(command: LifelineQueueCommand): Promise<LifelineCommandResult>;
  readonly onDidChange: LifelineEvent<void>;
  /** The output log of the job's latest attempt. */
  outputLogPath(job: LifelineJob): string | undefined;
}

/** A finished run as the history keeps it. Times are epoch milliseconds. */
export interface LifelineHistoryEntry {
  readonly jobId: string;
  readonly name: string;
  readonly command?: string;
  readonly stages?: readonly { readonly name: string; readonly command: string }[];
  readonly cwd?: string;
  readonly state: 'succeeded' | 'failed' | 'cancelled' | 'timedOut' | 'interrupted';
  readonly attempts: number;
  readonly createdAt: number;
  readonly startedAt?: number;
  readonly finishedAt: number;
  readonly durationMs?: number;
  readonly exitCode?: number;
  readonly error?: string;
  readonly outputTail?: string;
  readonly tags: readonly string[];
}

/** The job history: read-only. */
export interface LifelineHistoryApi {
  /** The newest finished runs, newest first. */
  recent(limit?: number): readonly LifelineHistoryEntry[];
  /** Fires after each recorded job, and when the history opens or closes. */
  readonly onDidChange: LifelineEvent<void>;
}

/** What validates a namespace's values: a zod schema fits (only `safeParse` is called). */
export interface LifelineStateSchema<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false; error: { message: string } };
}

/** What a migration sees: the namespace, its changes staged until the step returns. */
export interface LifelineMigrationContext {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
  delete(key: string): void;
  keys(): string[];
}

/** One step of a namespace's schema history, run when the stored version is below `version`. */
export interface LifelineStateMigration {
  /** A whole number from 1 up, distinct within the list. */
  readonly version: number;
  readonly description?: string;
  migrate(context: LifelineMigrationContext): void | Promise<void>;
}

export interface LifelineStateOptions<T> {
  /** Checks every value written and read. @default none: any JSON value */
  readonly schema?: LifelineStateSchema<T>;
  /** The schema version this code expects. @default the highest migration's version, or 0 */
  readonly version?: number;
  readonly migrations?: readonly LifelineStateMigration[];
}

export interface LifelineStateChange {
  /** The keys written or deleted. */
  readonly keys: readonly string[];
  /** A backup was restored: these keys differ from before it. */
  readonly restored?: true;
}

/**
 * One namespace of the workspace state. Every call goes to the window that holds the queue (this
 * one, or another over a local socket); a write resolves once it is on disk there.
 */
export interface LifelineState<T> {
  readonly namespace: string;
  /** The namespace's schema version. */
  readonly version: number;
  get(key: string): Promise<T | undefined>;
  has(key: string): Promise<boolean>;
  /** The namespace's keys, sorted. */
  keys(): Promise<string[]>;
  set(key: string, value: T): Promise<void>;
  delete(key: string): Promise<void>;
  /** Several keys, all or none, also across a crash. */
  batch(
    operations: readonly ({ readonly key: string; readonly value: T } | { readonly key: string; readonly delete: true })[],
  ): Promise<void>;
  /** Fires after each change of this namespace, from any window. */
  onDidChange(listener: (change: LifelineStateChange) => void): LifelineDisposable;
  /** Stops the events; later calls reject with `closed`. */
  dispose(): void;
}

export type LifelineStateErrorReason =
  | 'invalidNamespace'
  | 'invalidKey'
  | 'invalidValue'
  | 'invalidRequest'
  | 'tooLarge'
  | 'unsupportedVersion'
  | 'migrationFailed'
  | 'unavailable'
  | 'storageFailed'
  | 'closed';

/** What the state API rejects with: branch on `reason`, never on the message. */
export interface LifelineStateError extends Error {
  readonly name: 'LifelineStateError';
  readonly reason: LifelineStateErrorReason;
}
