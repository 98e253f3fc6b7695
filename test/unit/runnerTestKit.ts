import type { JobRunner, RunEvent, RunRequest } from '../../src/core/queue/jobRunner';

/** Resolves with the runner's next `exited` event of `jobId`. */
export function nextExit(runner: JobRunner, jobId: string): Promise<Extract<RunEvent, { type: 'exited' }>> {
  return new Promise((resolve) => {
    const sub = runner.onDidRun((event) => {
      if (event.type === 'exited' && event.jobId === jobId) {
        sub.dispose();
        resolve(event);
      }
    });
  });
}

/** A first attempt of a job whose stages `s0`, `s1`, … run `commands` in `cwd`. */
export function runRequest(cwd: string, jobId: string, commands: readonly string[], extra: Partial<RunRequest> = {}): RunRequest {
  return {
    jobId,
    attempt: 1,
    stages: commands.map((command, i) => ({ name: `s${i}`, command, cwd, outputs: [] })),
    fromStage: 0,
    checkpoint: undefined,
    ...extra,
  };
}
