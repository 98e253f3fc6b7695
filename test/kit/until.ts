/** An event to wait on: VS Code's `vscode.Event` and the core's `Event` both fit. */
export type Subscribable = (listener: () => void) => { dispose(): void };

/** Resolves once `done()` holds, checked at once and after each firing of `event`; rejects after `timeoutMs`. */
export function until(event: Subscribable, done: () => boolean, what: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (done()) return resolve();
    const timer = setTimeout(() => {
      subscription.dispose();
      reject(new Error(`timed out waiting for ${what} (${timeoutMs} ms)`));
    }, timeoutMs);
    const subscription = event(() => {
      if (!done()) return;
      clearTimeout(timer);
      subscription.dispose();
      resolve();
    });
  });
}
