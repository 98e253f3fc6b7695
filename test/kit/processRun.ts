import type { ChildProcess } from 'node:child_process';

/** A finished child process: its exit status and everything it wrote. */
export interface ProcessRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Collects a spawned child's output until it closes (asynchronously: a runtime in the test process keeps beating). */
export function collect(child: ChildProcess): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}
