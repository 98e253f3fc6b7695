import * as vscode from 'vscode';
import { ControlError } from '../core/control/controlErrors';
import { JobControl } from '../core/control/jobControl';
import type { DefinitionSource, DefinitionsRead } from '../core/control/workspaceDefinitions';
import type { JobDefinition } from '../shared/workspaceConfig';
import type { WorkspaceJobs } from './workspaceJobs';
import type { WorkspaceSession } from './workspaceSession';

/** The window's live definitions (read again on each change of the file) as the control's source. */
export class LiveDefinitionSource implements DefinitionSource {
  constructor(private readonly jobs: WorkspaceJobs) {}

  async read(): Promise<DefinitionsRead> {
    const definitions = await this.jobs.definitions();
    return { definitions, problem: this.jobs.problem };
  }

  foldersToAllow(definition: JobDefinition): Promise<string[]> {
    return this.jobs.foldersToAllow(definition);
  }
}

/** Throws ControlError 'untrusted' in Restricted Mode: the queue is closed then anyway, but a run never relies on that. */
export function requireWorkspaceTrust(what: string): Promise<void> {
  if (vscode.workspace.isTrusted) return Promise.resolve();
  return Promise.reject(
    new ControlError(
      'untrusted',
      `Lifeline does not ${what} in Restricted Mode: this workspace is not trusted (trust it with "Workspaces: Manage Workspace Trust").`,
    ),
  );
}

/**
 * The job control of chat: one per opened session of this window (a reopened queue gets a new
 * one), with chat as the audit log's origin.
 */
export class ChatControls {
  private current: { session: WorkspaceSession; control: JobControl } | undefined;

  constructor(
    private readonly session: () => WorkspaceSession | undefined,
    private readonly workspaceKey: string | undefined,
  ) {}

  /** The control, or undefined while the queue is not open in this window. */
  control(): { control: JobControl; folder: string } | undefined {
    const session = this.session();
    if (!session || this.workspaceKey === undefined) return undefined;
    if (this.current?.session !== session) {
      const runtime = session.runtime;
      this.current = {
        session,
        control: new JobControl({
          runtime: { queue: runtime.queue, estimateDuration: (definition) => session.history.estimateDuration(definition) },
          workspaceKey: this.workspaceKey,
          definitions: new LiveDefinitionSource(session.jobs),
          requireTrust: requireWorkspaceTrust,
          origin: { kind: 'agent', label: 'chat' },
          output: { jobsDirectory: runtime.jobsDirectory, key: () => runtime.encryption.cipher },
        }),
      };
    }
    return { control: this.current.control, folder: session.jobs.folderPath };
  }
}

/** An AbortSignal for the core's waits that aborts, with a CancellationError, when chat cancels the call. */
export function abortSignalOf(token: vscode.CancellationToken): { readonly signal: AbortSignal; dispose(): void } {
  const abort = new AbortController();
  if (token.isCancellationRequested) abort.abort(new vscode.CancellationError());
  const subscription = token.onCancellationRequested(() => abort.abort(new vscode.CancellationError()));
  return { signal: abort.signal, dispose: () => subscription.dispose() };
}
