/**
 * Splits a stream of newline-delimited text into lines: the framing both local protocols (the
 * queue socket and the supervisor channel) share; each keeps its own policy for bad lines.
 * Returns a `data` handler. `onLine` returns false to drop the rest of the chunk (the peer is being
 * cut off). When more than `maxBufferedChars` are waiting, `onOverflow` is called and the data
 * dropped, a guard against a runaway peer.
 */
export function splitLines(
  onLine: (line: string) => boolean | void,
  limits?: { readonly maxBufferedChars: number; readonly onOverflow: () => void },
): (chunk: Buffer | string) => void {
  let buffered = '';
  return (chunk) => {
    buffered += chunk.toString();
    if (limits && buffered.length > limits.maxBufferedChars) {
      buffered = '';
      limits.onOverflow();
      return;
    }
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf('\n');
      if (onLine(line) === false) return;
    }
  };
}
