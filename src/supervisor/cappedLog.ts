import { closeSync, openSync, writeSync } from 'node:fs';
import type { RecordCipher } from '../core/storage/cipher';
import { SealedLogWriter } from '../core/storage/sealedLog';

/**
 * A job's combined output, capped: the first half of the limit goes to the file as it arrives, the
 * last half is kept in memory and written after a line that says how much was cut. A runaway job
 * therefore cannot fill the disk, and both how it began and how it ended stay readable. With a
 * cipher, what reaches the file is sealed frames (src/core/storage/sealedLog.ts); the cap counts
 * the output's own bytes either way.
 */
export class CappedLog {
  private readonly fd: number;
  private readonly headLimit: number;
  private readonly tailLimit: number;
  private written = 0;
  private tail: Buffer[] = [];
  private tailBytes = 0;
  private cut = 0;
  private closed = false;
  private readonly sealer: SealedLogWriter | undefined;
  private sealedBroken = false;

  constructor(path: string, limitBytes: number, cipher?: RecordCipher) {
    this.fd = openSync(path, 'w', 0o600);
    this.headLimit = Math.ceil(limitBytes / 2);
    this.tailLimit = Math.floor(limitBytes / 2);
    if (cipher) {
      this.sealer = new SealedLogWriter(cipher);
      this.writeRaw(this.sealer.header());
    }
  }

  write(chunk: Buffer): void {
    if (this.closed) return;
    let rest = chunk;
    if (this.written < this.headLimit) {
      const head = rest.subarray(0, this.headLimit - this.written);
      this.writeAll(head);
      this.written += head.length;
      rest = rest.subarray(head.length);
    }
    if (rest.length === 0) return;
    this.tail.push(Buffer.from(rest));
    this.tailBytes += rest.length;
    while (this.tailBytes > this.tailLimit) {
      const first = this.tail[0] as Buffer;
      const excess = this.tailBytes - this.tailLimit;
      if (first.length <= excess) {
        this.tail.shift();
        this.tailBytes -= first.length;
        this.cut += first.length;
      } else {
        this.tail[0] = first.subarray(excess);
        this.tailBytes -= excess;
        this.cut += excess;
      }
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.cut > 0) {
        this.writeAll(
          Buffer.from(
            `\n[lifeline: ${this.cut} bytes of output were cut here; the log keeps its first and last ${this.tailLimit} bytes]\n`,
          ),
        );
      }
      // One write (and a few frames) for the tail, not one per chunk it was kept in.
      if (this.tail.length > 0) this.writeAll(Buffer.concat(this.tail));
      if (this.sealer) this.writeRaw(this.sealer.end());
    } finally {
      closeSync(this.fd);
    }
  }

  private writeAll(data: Buffer): void {
    this.writeRaw(this.sealer ? this.sealer.output(data) : data);
  }

  private writeRaw(data: Buffer): void {
    if (this.sealedBroken) return;
    let offset = 0;
    try {
      while (offset < data.length) offset += writeSync(this.fd, data, offset);
    } catch {
      // The log is best effort (a full disk must not fail the job); its journal is what counts.
      // A sealed log ends at a frame cut short, read as torn: frames after it would read as damage.
      if (this.sealer) this.sealedBroken = true;
    }
  }
}
