import * as vscode from 'vscode';
import { isSealedLog, readJobOutput } from '../core/supervisors/outputTail';

/** Read-only documents of encrypted job output logs (docs/encryption-job-files.md): `lifeline-output:/<log path>`. */
export const JOB_OUTPUT_SCHEME = 'lifeline-output';

/** A job output log's whole text, decrypted: built from `readJobOutput(path, cipher)` with the key current when asked. */
export type JobOutputReader = (path: string) => Promise<string>;

/**
 * Registers the provider of `lifeline-output:` documents, which decrypts with `read` at each open.
 * @param read @default readJobOutput without a key: a sealed log then fails to open with StorageError 'missingKey'
 */
export function registerJobOutputDocuments(read: JobOutputReader = (path) => readJobOutput(path)): vscode.Disposable {
  const provider: vscode.TextDocumentContentProvider = { provideTextDocumentContent: (uri) => read(uri.fsPath) };
  return vscode.workspace.registerTextDocumentContentProvider(JOB_OUTPUT_SCHEME, provider);
}

/** Where Show Output opens the log at `path`: a plain log as the file itself, a sealed one through the decrypting provider. */
export async function jobOutputUri(path: string): Promise<vscode.Uri> {
  const file = vscode.Uri.file(path);
  return (await isSealedLog(path)) ? file.with({ scheme: JOB_OUTPUT_SCHEME }) : file;
}
