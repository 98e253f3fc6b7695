/**
 * Splits a stream of newline-delimited text into lines: the framing both local protocols (the
 * queue socket and the supervisor channel) share; each keeps its own policy for bad lines.
 * Returns a `data` handler. `onLine` returns false to drop the rest of the chunk (the peer is being
 * cut off). When a line grows past `maxLineChars` (asked afresh for each chunk, so that a peer can
 * be allowed more once it has authenticated), `onOverflow` is called and the data dropped, a guard
 * against a runaway peer.
 *
 * Only the new chunk is searched for a line end, never what is already waiting: a peer that
 * streams without a newline costs linear time, not quadratic: a peer cannot wear the host down with one endless line.
 */
export function splitLines(
  onLine: (line: string) => boolean | void,
  limits?: { readonly maxLineChars: number | (() => number); readonly onOverflow: () => void },
): (chunk: Buffer | string) => void {
  let buffered = '';
  let stopped = false;
  const limit = (): number =>
    limits === undefined ? Infinity : typeof limits.maxLineChars === 'number' ? limits.maxLineChars : limits.maxLineChars();
  const overflow = (): void => {
    buffered = '';
    stopped = true;
    limits?.onOverflow();
  };
  return (chunk) => {
    if (stopped) return;
    const text = chunk.toString();
    let start = 0;
    let newline = text.indexOf('\n');
    while (newline >= 0) {
      if (buffered.length + newline - start > limit()) return overflow();
      const line = buffered + text.slice(start, newline);
      buffered = '';
      start = newline + 1;
      if (onLine(line) === false) return;
      newline = text.indexOf('\n', start);
    }
    if (buffered.length + text.length - start > limit()) return overflow();
    buffered += start === 0 ? text : text.slice(start);
  };
}
