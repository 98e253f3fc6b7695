import type { CommitOptions } from '../storage/durableStore';
import type { CommandResult, Job, QueueFlags, QueueRecord } from './jobModel';
import type { QueueState } from './queueState';

/**
 * What happens to a change whose commit fails. `undo` (the default, every command): it is taken
 * back in memory and the caller is told; nothing of it is on disk. `keep`: it reports something that
 * already happened (a process started, a stage ended, a job exited), which no undo can take back, so
 * it stays in memory and is written again (with the next commit, or after JobQueue's UNSAVED_RETRY_MS).
 * A change whose `onWritten` ran is kept as well: whatever it started is running.
 */
export interface MutateOptions extends CommitOptions {
  /** @default 'undo' */
  readonly onFailure?: 'undo' | 'keep';
}

/** What a key held before a commit changed it: a job (or its absence), the flags, a command's result (or none). */
type Prior =
  | { readonly kind: 'job'; readonly id: string; readonly value: Job | undefined }
  | { readonly kind: 'flags'; readonly value: QueueFlags }
  | { readonly kind: 'cmd'; readonly id: string; readonly value: CommandResult | undefined };

/** One commit in flight: the value each key it changes had before it. */
export interface PendingCommit {
  readonly priors: Map<string, Prior>;
}

/**
 * Takes back the in-memory effect of commits that failed (issue 16, "a failed write never freezes
 * the queue"). JobQueue applies a change in memory at once, because the scheduler and the next
 * command must see it, and the disk catches up; when the disk refuses, the change is undone here
 * rather than left ahead of the disk. Every queue record is a whole value for its key (a job by id,
 * the flags, a command's result), so undoing a commit is putting back, key by key, what it replaced.
 *
 * Commits overlap: a later one may have changed the same key, planned on top of the failed one. Then
 * the later one keeps the live value, and inherits the older prior, so that if it fails too the key
 * returns to what the disk has. A commit that succeeds writes the live value of its keys, so the
 * earlier commits still in flight no longer undo those keys: the disk already holds the newer value.
 */
export class PendingCommits {
  private readonly pending: PendingCommit[] = [];

  /** Records what `records` will replace, before they are applied to `state`; call once per commit. */
  begin(state: QueueState, records: readonly QueueRecord[]): PendingCommit {
    const priors = new Map<string, Prior>();
    const note = (key: string, prior: () => Prior) => {
      if (!priors.has(key)) priors.set(key, prior());
    };
    for (const record of records) {
      switch (record.t) {
        case 'job':
          note(`job:${record.job.id}`, () => ({ kind: 'job', id: record.job.id, value: state.jobs.get(record.job.id) }));
          break;
        case 'remove':
          for (const id of record.ids) note(`job:${id}`, () => ({ kind: 'job', id, value: state.jobs.get(id) }));
          break;
        case 'flags':
          note('flags', () => ({ kind: 'flags', value: state.flags }));
          break;
        case 'cmd':
          note(`cmd:${record.id}`, () => ({ kind: 'cmd', id: record.id, value: state.commands.get(record.id) }));
          break;
      }
    }
    const commit = { priors };
    this.pending.push(commit);
    return commit;
  }

  /** The commit is on disk. */
  succeeded(commit: PendingCommit): void {
    const index = this.pending.indexOf(commit);
    if (index < 0) return;
    for (const earlier of this.pending.slice(0, index)) for (const key of commit.priors.keys()) earlier.priors.delete(key);
    this.pending.splice(index, 1);
  }

  /**
   * The commit failed and its change is kept in memory (a fact, such as a process that exited,
   * that is written again later): later commits keep their priors.
   */
  kept(commit: PendingCommit): void {
    const index = this.pending.indexOf(commit);
    if (index >= 0) this.pending.splice(index, 1);
  }

  /**
   * The commit failed: puts back in `state` what it replaced, except keys a later commit in flight
   * changed (they inherit the prior: if that one fails too, the key returns to what the disk has).
   * @returns the ids of the jobs whose value was put back
   */
  undo(commit: PendingCommit, state: QueueState): string[] {
    const index = this.pending.indexOf(commit);
    if (index < 0) return [];
    this.pending.splice(index, 1);
    const restored: string[] = [];
    for (const [key, prior] of commit.priors) {
      const later = this.pending.slice(index).find((other) => other.priors.has(key));
      if (later) {
        later.priors.set(key, prior);
        continue;
      }
      switch (prior.kind) {
        case 'job':
          if (prior.value) state.apply({ t: 'job', job: prior.value });
          else state.jobs.delete(prior.id);
          restored.push(prior.id);
          break;
        case 'flags':
          state.apply({ t: 'flags', flags: prior.value });
          break;
        case 'cmd':
          if (prior.value) state.commands.set(prior.id, prior.value);
          else state.commands.delete(prior.id);
          break;
      }
    }
    return restored;
  }
}
