import { closeSync, fstatSync, openSync, readSync, statSync, unlinkSync } from 'node:fs';

/** A checkpoint file larger than this is refused (with a warning), never read whole. @default 64 KiB */
export const MAX_CHECKPOINT_FILE_BYTES = 64 * 1024;

/** How often a running job's checkpoint file is looked at (one stat; read only when it changed). */
export const CHECKPOINT_POLL_MS = 250;

/** The run's checkpoint file, next to its journal: `<jobId>.<attempt>.checkpoint`. */
export function checkpointFilePath(journalPath: string): string {
  return `${journalPath.replace(/\.journal$/, '')}.checkpoint`;
}

export type CheckpointFileReading = { readonly checkpoint: string } | { readonly warning: string } | undefined;

/**
 * The file a job names by LIFELINE_CHECKPOINT_FILE: whatever it writes there (trimmed) is its
 * latest checkpoint, an alternative to `::lifeline checkpoint` lines for state that is not one line.
 * fs.watch misses changes on some file systems, so the owner polls {@link read}: a stat each time,
 * and a read once a change (size, times or inode) has held still for one poll, so that a file being
 * written is not taken half done; a forced read (as a stage exits) reads at once. A job should
 * still replace the file by rename for an atomic update.
 */
export class CheckpointFile {
  /** The version of the file last read (or warned about). */
  private signature: string | undefined;
  /** The version seen at the last poll: read once it is seen twice. */
  private seen: string | undefined;
  private last: string | undefined;

  /** @param initial the checkpoint the run started with: the file repeating it is not news. */
  constructor(
    readonly path: string,
    initial: string | undefined,
    private readonly limitBytes = MAX_CHECKPOINT_FILE_BYTES,
  ) {
    this.last = initial;
  }

  /**
   * Removes a file an earlier run with the same name left, so that it is not read as this run's.
   * One that cannot be removed is ignored until it changes.
   */
  reset(): void {
    this.signature = undefined;
    try {
      unlinkSync(this.path);
    } catch (error) {
      // The usual case, on the way to every run's first stage: nothing to remove.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      try {
        this.signature = signatureOf(statSync(this.path));
      } catch {
        // gone after all
      }
    }
  }

  /** A checkpoint came by another way (a protocol line): the file repeating it later is still news. */
  noteCheckpoint(checkpoint: string): void {
    this.last = checkpoint;
  }

  /**
   * A new checkpoint when the file changed to a non-empty text that differs from the last
   * checkpoint; a warning when it is too large or unreadable (once per change); else undefined.
   */
  read(force = false): CheckpointFileReading {
    let before: string;
    try {
      before = signatureOf(statSync(this.path));
    } catch {
      return undefined; // not written (yet)
    }
    if (!force && before === this.signature) return undefined;
    if (!force && before !== this.seen) {
      this.seen = before;
      return undefined;
    }
    let fd: number | undefined;
    try {
      fd = openSync(this.path, 'r');
      const stat = fstatSync(fd);
      if (!stat.isFile()) return this.settle(before, { warning: `the checkpoint file ${this.path} is not a regular file; it is ignored` });
      if (stat.size > this.limitBytes) {
        return this.settle(before, {
          warning: `the checkpoint file ${this.path} is ${stat.size} bytes, more than the limit of ${this.limitBytes}; it is ignored`,
        });
      }
      const buffer = Buffer.alloc(stat.size);
      let offset = 0;
      while (offset < buffer.length) {
        const bytes = readSync(fd, buffer, offset, buffer.length - offset, offset);
        if (bytes === 0) break;
        offset += bytes;
      }
      // Changed while it was read: a half-written file. The next poll (or the stage's end) reads it again.
      if (signatureOf(fstatSync(fd)) !== before || offset !== stat.size) return undefined;
      const checkpoint = buffer.toString('utf8').trim();
      this.signature = before;
      if (checkpoint === '' || checkpoint === this.last) return undefined;
      this.last = checkpoint;
      return { checkpoint };
    } catch (error) {
      return this.settle(before, {
        warning: `the checkpoint file ${this.path} could not be read: ${error instanceof Error ? error.message : String(error)}`,
      });
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  /** A warning is given once per version of the file, not at every poll. */
  private settle(signature: string, reading: { warning: string }): CheckpointFileReading {
    if (signature === this.signature) return undefined;
    this.signature = signature;
    return reading;
  }
}

function signatureOf(stat: { ino: number; size: number; mtimeMs: number; ctimeMs: number }): string {
  return `${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`;
}
