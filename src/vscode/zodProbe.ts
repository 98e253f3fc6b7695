import { util } from 'zod/v4/core';

/**
 * Answers zod's "may I compile validators with `new Function`?" probe before any schema exists.
 *
 * zod asks once, lazily, and its probe reads `globalThis.navigator`. In the extension host of
 * VS Code 1.101 and later (Node 22+), `navigator` is a getter VS Code installs, non-configurable,
 * that logs a `PendingMigrationError` as an unexpected error each time it is read. Answering the
 * probe here (the same `new Function` test zod makes, without the navigator read) keeps that
 * error out of the user's logs. `z.config({ jitless: true })` would also silence it, but makes
 * every object parse about ten times slower (0.7 µs against 7.8 µs for a job record, measured),
 * and the queue parses records on its hot path.
 *
 * This module must be imported before any other that builds a zod schema: src/extension.ts
 * imports it first. A shadowing own property leaves zod's cache object otherwise untouched.
 */
function evalAllowed(): boolean {
  try {
    new Function('');
    return true;
  } catch {
    return false;
  }
}

Object.defineProperty(util.allowsEval, 'value', { value: evalAllowed(), configurable: true });
