import { join } from 'node:path';
import { JobControl } from '../core/control/jobControl';
import { readSharedOptions } from '../core/control/sharedOptions';
import { FileDefinitionSource } from '../core/control/workspaceDefinitions';
import { requireTrustRecord } from '../core/control/workspaceTrust';
import type { Logger } from '../core/logger';
import type { AuditOrigin } from '../core/queue/jobModel';
import type { RuntimeRole } from '../core/runtime/runtimeContext';
import type { EncryptionKeyStore } from '../core/runtime/runtimeEncryption';
import { EncryptionLockedError } from '../core/runtime/runtimeEncryption';
import { WorkspaceRuntime } from '../core/runtime/workspaceRuntime';
import { importRecoveryKey, RecoveryKeyError } from '../core/storage/recoveryKey';
import { CommandLineError } from './cliErrors';
import type { CliTarget } from './cliTarget';

/** An open workspace: its runtime (holder or client of the window that holds the queue) and the control over it. */
export interface CliSession {
  readonly runtime: WorkspaceRuntime;
  readonly control: JobControl;
  readonly target: CliTarget;
  close(): Promise<void>;
}

export interface CliSessionOptions {
  readonly role: Extract<RuntimeRole, 'cli' | 'mcp'>;
  readonly logger: Logger;
  /** `--recovery-key` or LIFELINE_RECOVERY_KEY: the key of an encrypted workspace (no keychain outside VS Code). */
  readonly recoveryKey?: string;
  readonly origin?: AuditOrigin;
  /** The folder of dist/: the supervisor and sql.js's wasm sit beside this bundle. */
  readonly distDirectory: string;
  readonly appVersion?: string;
}

/** A key store that only hands out the recovery key it was given: this process never turns encryption on or off. */
function recoveryKeyStore(text: string | undefined): EncryptionKeyStore | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  let key: Uint8Array;
  try {
    key = importRecoveryKey(text);
  } catch (error) {
    if (error instanceof RecoveryKeyError) throw new CommandLineError('usage', `The recovery key cannot be read: ${error.message}`);
    throw error;
  }
  const refuse = (): Promise<void> =>
    Promise.reject(new CommandLineError('usage', 'Encryption is turned on or off from VS Code (Lifeline: Enable Encryption…).'));
  return { getKey: () => Promise.resolve(key), setKey: refuse, deleteKey: refuse };
}

/**
 * Opens the workspace as every entry point does (WorkspaceRuntime.open): a client of the window
 * that holds the queue, or the holder itself while none does, with the options the extension
 * last ran the workspace with. An encrypted workspace needs its recovery key here; a workspace
 * VS Code has not trusted is not opened.
 */
export async function openCliSession(target: CliTarget, options: CliSessionOptions): Promise<CliSession> {
  // Before anything opens: holding the queue means running it (queued jobs would start), which an
  // untrusted workspace never does, so nothing of it is opened at all (ControlError 'untrusted').
  await requireTrustRecord(target.storageDirectory, "open this workspace's queue");
  const keyStore = recoveryKeyStore(options.recoveryKey);
  let runtime: WorkspaceRuntime;
  try {
    runtime = await WorkspaceRuntime.open({
      storageDirectory: target.storageDirectory,
      workspaceKey: target.workspaceKey,
      baseDir: target.workspaceFolder,
      logger: options.logger,
      options: await readSharedOptions(target.storageDirectory),
      keyStore,
      role: options.role,
      origin: options.origin,
      appVersion: options.appVersion,
      supervisorScript: join(options.distDirectory, 'supervisor.js'),
      sqlWasmPath: join(options.distDirectory, 'sql-wasm.wasm'),
    });
  } catch (error) {
    if (error instanceof EncryptionLockedError) {
      throw new CommandLineError(
        'unavailable',
        `${error.message} Give the workspace's recovery key with --recovery-key or LIFELINE_RECOVERY_KEY (VS Code: Lifeline: Export Recovery Key…).`,
      );
    }
    throw error;
  }
  const control = new JobControl({
    runtime: { queue: runtime.queue, estimateDuration: (definition) => runtime.history.estimateDuration(definition) },
    workspaceKey: target.workspaceKey,
    definitions: new FileDefinitionSource(target.workspaceFolder, target.storageDirectory, options.logger),
    requireTrust: (what) => requireTrustRecord(target.storageDirectory, what),
    origin: options.origin,
    output: { jobsDirectory: runtime.jobsDirectory, key: () => runtime.encryption.cipher },
  });
  return { runtime, control, target, close: () => runtime.close() };
}
