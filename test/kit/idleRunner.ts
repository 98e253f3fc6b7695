import { Emitter } from '../../src/core/emitter';
import type { JobRunner, RunEvent } from '../../src/core/queue/jobRunner';

/** Runs nothing: for tests about the queue's commands and files, where the queue stays paused. */
export class IdleRunner implements JobRunner {
  private readonly emitter = new Emitter<RunEvent>();
  readonly onDidRun = this.emitter.event;
  start(): void {}
  kill(): void {}
  async dispose(): Promise<void> {}
}
