import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { Job } from '../../src/core/queue/jobModel';
import { retryPolicySchema } from '../../src/core/queue/retryPolicy';
import type { QueueTreeNode } from '../../src/vscode/queueTreeProvider';
import { QueueTreeProvider } from '../../src/vscode/queueTreeProvider';
import { readyQueue as queue } from './integrationKit';

type TreeChange = QueueTreeNode | QueueTreeNode[] | undefined | void;

/** A queue whose jobs the test sets, so that each change is one the test made. */
class ScriptedQueue implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChange = this.emitter.event;
  constructor(public jobs: Job[]) {}

  update(id: string, change: Partial<Job>): void {
    this.jobs = this.jobs.map((job) => (job.id === id ? { ...job, ...change } : job));
    this.emitter.fire();
  }

  remove(id: string): void {
    this.jobs = this.jobs.filter((job) => job.id !== id);
    this.emitter.fire();
  }

  dispose(): void {
    this.emitter.dispose();
  }
}

function job(id: string, state: Job['state'], overrides: Partial<Job> = {}): Job {
  return {
    id,
    name: `job ${id}`,
    kind: 'command',
    group: 'default',
    stages: [{ name: 'main', command: 'true', cwd: '/tmp', outputs: [] }],
    priority: 0,
    position: 0,
    tags: [],
    state,
    createdAt: 0,
    retry: retryPolicySchema.parse({}),
    attempts: state === 'queued' ? 0 : 1,
    completedStages: [],
    interruptions: 0,
    ...overrides,
  };
}

/** The provider's next change event: what VS Code would be told to redraw. */
function nextChange(provider: QueueTreeProvider): Promise<TreeChange> {
  return new Promise((resolve) => {
    const subscription = provider.onDidChangeTreeData((change) => {
      subscription.dispose();
      resolve(change);
    });
  });
}

function description(provider: QueueTreeProvider, node: QueueTreeNode): string | undefined {
  const text = provider.getTreeItem(node).description;
  return typeof text === 'string' ? text : undefined;
}

/** The job of a row; a notice row (not saving, low disk) has none. */
function jobIdOf(row: QueueTreeNode): string | undefined {
  return row.kind === 'notice' ? undefined : row.job.id;
}

describe('Queue view (its tree provider, in a real extension host)', () => {
  const disposables: vscode.Disposable[] = [];
  afterEach(() => {
    while (disposables.length) disposables.pop()?.dispose();
  });

  it('redraws only the row whose job printed progress, at most once per interval; a state change at once; the whole tree only when rows come or go', async () => {
    const intervalMs = 300;
    const source = new ScriptedQueue([
      job('a', 'running', { position: 1 }),
      job('b', 'queued', { position: 2 }),
      job('c', 'succeeded', { position: 3 }),
    ]);
    const provider = new QueueTreeProvider({ progressIntervalMs: intervalMs });
    disposables.push(source, provider);
    provider.attach(source);
    // What VS Code does when the view shows: the rows, then an item for each.
    const rows = provider.getChildren();
    assert.deepEqual(rows.map(jobIdOf), ['a', 'b', 'c']);
    for (const row of rows) provider.getTreeItem(row);
    const [a, b] = rows as [QueueTreeNode, QueueTreeNode, QueueTreeNode];
    const changes: TreeChange[] = [];
    provider.onDidChangeTreeData((change) => changes.push(change), undefined, disposables);

    let next = nextChange(provider);
    source.update('a', { progress: { fraction: 0.1 } });
    const first = await next;
    const firstAt = Date.now();
    assert.ok(Array.isArray(first), 'a list of rows, not the whole tree');
    assert.equal(first.length, 1);
    assert.equal(first[0], a, "the row's own element, so VS Code keeps its selection and tooltip");
    assert.equal(description(provider, a), 'running · 10%');

    // A burst of progress lines: one redraw of that row, with the last of them, an interval later.
    next = nextChange(provider);
    for (const fraction of [0.2, 0.3, 0.4]) source.update('a', { progress: { fraction } });
    assert.equal(changes.length, 1, 'nothing is redrawn while the burst comes in');
    const second = await next;
    // Timers never fire early; a few ms of slack for the clock's rounding.
    assert.ok(Date.now() - firstAt >= intervalMs - 5, `redrawn ${Date.now() - firstAt} ms after the last redraw`);
    assert.ok(Array.isArray(second));
    assert.deepEqual(second, [a]);
    assert.equal(description(provider, a), 'running · 40%');

    // A change that shows nothing new (a checkpoint) redraws nothing; a state change goes at once.
    source.update('a', { checkpoint: '{"frame":1}' });
    source.update('b', { state: 'running', attempts: 1 });
    assert.equal(changes.length, 3, 'the state change was told synchronously');
    assert.deepEqual(changes[2], [b]);
    assert.equal(description(provider, b), 'running');

    const again = provider.getChildren();
    assert.equal(again.length, 3);
    rows.forEach((row, index) => assert.equal(again[index], row, 'each row keeps its element'));

    // A row that goes changes the set of rows: the whole tree is redrawn.
    next = nextChange(provider);
    source.remove('c');
    assert.equal(await next, undefined);
    assert.deepEqual(provider.getChildren().map(jobIdOf), ['a', 'b']);
  });

  it('says "timed out" with the limit in time as people read it, for a job its timeout stopped', async () => {
    const q = await queue();
    const provider = new QueueTreeProvider();
    disposables.push(provider);
    provider.attach(q);
    const { jobId } = await q.execute({ type: 'enqueue', definition: { name: 'too slow', command: 'sleep 60', timeoutSeconds: 1 } });
    assert.ok(jobId);
    const ended = await new Promise<Job>((resolve) => {
      const check = (): boolean => {
        const current = q.getJob(jobId);
        if (current?.state !== 'failed') return false;
        resolve(current);
        return true;
      };
      if (check()) return;
      const subscription = q.onDidChange(() => {
        if (check()) subscription.dispose();
      });
      disposables.push(subscription);
    });
    assert.equal(ended.result?.timedOut, true);
    assert.equal(ended.result?.error, 'timed out after 1 s', 'the message the scheduler stores');
    const row = provider.getChildren().find((node) => jobIdOf(node) === jobId);
    assert.ok(row);
    const item = provider.getTreeItem(row);
    assert.equal(item.description, 'timed out after 1 s');
    assert.equal((item.iconPath as vscode.ThemeIcon).id, 'watch');
    assert.equal(item.contextValue, 'lifeline.job.failed', 'the actions of a failed job: resume, run again');
    const tooltip = provider.resolveTreeItem(item, row).tooltip;
    assert.ok(tooltip instanceof vscode.MarkdownString);
    assert.match(tooltip.value, /timed out after 1 s/);
    assert.doesNotMatch(tooltip.value, /\d ms/);
  });
});
