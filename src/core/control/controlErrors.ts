import { LifelineError } from '../errors';

export type ControlErrorReason =
  /** The request is malformed: a field, a value or a combination the control does not accept. */
  | 'invalidRequest'
  /** No job with that id in the queue. */
  | 'unknownJob'
  /** No definition with that name in `.vscode/lifeline.json` (or the file cannot be used). */
  | 'unknownDefinition'
  /** The workspace is not trusted in VS Code: nothing is run from it. */
  | 'untrusted'
  /** The definition runs in folders outside the workspace that no one allowed yet. */
  | 'needsApproval';

/** A refusal of the job control (docs/cli.md lists each reason and its exit status). */
export class ControlError extends LifelineError<ControlErrorReason> {
  constructor(reason: ControlErrorReason, message: string, options?: { cause?: unknown }) {
    super('ControlError', reason, message, options);
  }
}
