import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

type Context = Record<string, string | boolean | undefined>;

/**
 * Evaluates the subset of VS Code's when-clause syntax that package.json's welcome content uses:
 * terms joined by `&&`, each `key`, `!key`, `key == value` or `key != value`. An unset key equals
 * nothing, so `key != value` holds for it (as in VS Code).
 */
function evaluate(when: string, context: Context): boolean {
  return when.split('&&').every((raw) => {
    const term = raw.trim();
    const match = /^([\w.]+)\s*(==|!=)\s*([\w.]+)$/.exec(term);
    if (match) {
      const [, key = '', operator, value] = match;
      const actual = context[key];
      const equal = String(actual) === value && actual !== undefined;
      return operator === '==' ? equal : !equal;
    }
    if (/^![\w.]+$/.test(term)) return !context[term.slice(1)];
    assert.match(term, /^[\w.]+$/, `a when-clause term this test understands: ${term}`);
    return Boolean(context[term]);
  });
}

describe('Queue view welcome content (package.json viewsWelcome)', () => {
  const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as {
    contributes: { viewsWelcome: { view: string; contents: string; when: string }[] };
  };
  const welcomes = manifest.contributes.viewsWelcome.filter((welcome) => welcome.view === 'lifeline.queue');
  const shown = (context: Context) => welcomes.filter((welcome) => evaluate(welcome.when, context)).map((welcome) => welcome.contents);
  // Unset: the extension host has not activated Lifeline yet (or has just restarted).
  const statuses = [undefined, 'opening', 'waiting', 'open', 'unavailable'];

  it('offers the Run buttons of an empty queue only once the queue is open', () => {
    for (const status of statuses) {
      const [contents, ...more] = shown({ workbenchState: 'folder', isWorkspaceTrusted: true, 'lifeline.queueStatus': status });
      assert.equal(more.length, 0, `one welcome for status ${status}`);
      assert.ok(contents, `a welcome for status ${status}`);
      assert.equal(contents.includes('command:lifeline.runJob'), status === 'open', `Run buttons for status ${status}: ${contents}`);
    }
  });

  it('says the queue is opening before Lifeline has said anything, and waiting while the holder changes', () => {
    const trusted = { workbenchState: 'folder', isWorkspaceTrusted: true };
    assert.match(shown({ ...trusted, 'lifeline.queueStatus': undefined })[0] ?? '', /^Opening the queue…/);
    assert.match(shown({ ...trusted, 'lifeline.queueStatus': 'opening' })[0] ?? '', /^Opening the queue…/);
    assert.match(shown({ ...trusted, 'lifeline.queueStatus': 'waiting' })[0] ?? '', /^Waiting for the queue’s holder…/);
    assert.match(
      shown({ ...trusted, 'lifeline.queueStatus': 'unavailable' })[0] ?? '',
      /could not open the queue[\s\S]*command:lifeline.showLog/,
    );
  });

  it('keeps one welcome each for Restricted Mode and for no folder, whatever the status says', () => {
    for (const status of statuses) {
      assert.deepEqual(
        shown({ workbenchState: 'folder', isWorkspaceTrusted: false, 'lifeline.queueStatus': status }).map((text) =>
          /Restricted Mode/.test(text),
        ),
        [true],
      );
      assert.deepEqual(
        shown({ workbenchState: 'empty', isWorkspaceTrusted: true, 'lifeline.queueStatus': status }).map((text) =>
          /Open a folder/.test(text),
        ),
        [true],
      );
    }
  });

  it('never says the queue is empty when the view listed jobs before its extension host went away', () => {
    const open = { workbenchState: 'folder', isWorkspaceTrusted: true, 'lifeline.queueStatus': 'open' };
    // The workbench shows welcome content only for a view with no rows. With the queue open and
    // rows listed, that happens only when the host that gave them is gone: the keys outlive it.
    const [hostGone, ...more] = shown({ ...open, 'lifeline.queueListed': true });
    assert.equal(more.length, 0);
    assert.match(hostGone ?? '', /^Lifeline is not running in this window just now/);
    assert.ok(!(hostGone ?? '').includes('command:lifeline.runJob'), 'no Run buttons: the queue is not empty');
    for (const listed of [false, undefined]) {
      assert.match(shown({ ...open, 'lifeline.queueListed': listed })[0] ?? '', /^No jobs queued yet/);
    }
  });
});
