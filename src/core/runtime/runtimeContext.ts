import type { Clock } from '../clock';
import type { Listener } from '../emitter';
import type { Logger } from '../logger';
import type { AuditOrigin } from '../queue/jobModel';
import type { JobRunner } from '../queue/jobRunner';
import type { QueueSessionOptions } from '../session/queueSession';
import type { FreeSpaceProbe } from './lowDiskMonitor';
import type { RuntimeOptions } from './runtimeOptions';
import type { RuntimeReport } from './runtimeReports';
import type { EncryptionKeyStore } from './runtimeEncryption';
import type { WindowPresence } from './windowHandOver';

/** Who opened a runtime: named in its log lines. */
export type RuntimeRole = 'extension' | 'cli' | 'mcp' | 'test' | 'bench';

/** Everything a workspace runtime is opened from; nothing in it is VS Code's. */
export interface RuntimeContext {
  /**
   * The workspace's own storage folder, as `openWorkspaceDirectory(globalStorage, workspaceKey)`
   * (core/storage/workspaceDirectory.ts) returns it: every entry point that opens the same key
   * under the same global storage shares the queue and the history.
   */
  readonly storageDirectory: string;
  /** The workspace's key (`file:<folder path>` for a folder), for the log. */
  readonly workspaceKey: string;
  /** Relative working directories of jobs resolve against it: the workspace folder. */
  readonly baseDir: string;
  readonly logger: Logger;
  /** @default the system clock */
  readonly clock?: Clock;
  /** @default DEFAULT_RUNTIME_OPTIONS */
  readonly options?: Partial<RuntimeOptions>;
  /**
   * Where the workspace's data key is kept (SecretStorage in VS Code): encryption at rest
   * (docs/encryption.md). Without one the runtime cannot turn encryption on, and opens encrypted
   * data only never: it throws EncryptionLockedError. @default none
   */
  readonly keyStore?: EncryptionKeyStore;
  readonly role: RuntimeRole;
  /**
   * Who this process's commands come from, for the audit log (docs/audit.md): the extension says
   * which window. @default from the role: extension → window, cli → terminal, mcp → agent, else runtime
   */
  readonly origin?: AuditOrigin;
  /** Written into each backup, so a backup says which version made it. @default 'unknown' */
  readonly appVersion?: string;
  /** The supervisor's entry point: dist/supervisor.js beside the bundle. */
  readonly supervisorScript: string;
  /** sql-wasm.wasm: dist/sql-wasm.wasm beside the bundle. */
  readonly sqlWasmPath: string;
  /**
   * Subscribed before anything opens, so that damage found while the queue opens, and questions
   * about jobs found interrupted, reach it (`onDidReport` is there for later listeners).
   */
  readonly onDidReport?: Listener<RuntimeReport>;
  /**
   * This process's window (the extension's): a window that opens as a client asks whether it is
   * still there, and one that is gone hands the queue over (windowHandOver.ts). @default none
   */
  readonly windowPresence?: WindowPresence;
  /** For benchmarks and tests only; the product never sets it. */
  readonly overrides?: RuntimeOverrides;
}

/** The origin of a process's commands when its context does not say. */
export function defaultOrigin(role: RuntimeRole): AuditOrigin {
  switch (role) {
    case 'extension':
      return { kind: 'window' };
    case 'cli':
      return { kind: 'terminal' };
    case 'mcp':
      return { kind: 'agent' };
    default:
      return { kind: 'runtime', label: role };
  }
}

/** Replacements for parts of the runtime, for benchmarks and tests that need them. */
export interface RuntimeOverrides {
  /** Runs jobs instead of the detached supervisors (a bench's no-op runner, in-process runs). */
  readonly createRunner?: (jobsDirectory: string) => JobRunner;
  /** The lease's timing (tests that kill a holder want a short staleness). */
  readonly lease?: Pick<QueueSessionOptions, 'heartbeatMs' | 'staleAfterMs' | 'releaseWaitMs' | 'socketDir'>;
  /** The free space of the storage folder's disk, instead of fs.statfs (the low-disk monitor's tests). */
  readonly freeBytes?: FreeSpaceProbe;
  /** How long queue commands wait for the audit file (a crash test keeps them from it). */
  readonly auditFlushDelayMs?: number;
}
