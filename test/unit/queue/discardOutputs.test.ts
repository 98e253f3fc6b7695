import * as assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../../src/core/clock';
import { JobQueue } from '../../../src/core/queue/jobQueue';
import { MemoryQueueLog } from '../../../src/core/queue/queueLog';
import { MemoryLogger } from '../../../src/core/logger';
import { FakeRunner, settle } from './jobTestKit';

/** Discard never deletes files outside the workspace, through a link or in a stage working outside it (docs/security.md). */
describe('jobs: discard deletes only inside the workspace folder', () => {
  let root: string;
  let workspace: string;
  let outside: string;
  let queue: JobQueue | undefined;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'lifeline-discard-'));
    workspace = join(root, 'workspace');
    outside = join(root, 'outside');
    mkdirSync(workspace);
    mkdirSync(outside);
  });
  afterEach(async () => {
    await queue?.dispose();
    queue = undefined;
    rmSync(root, { recursive: true, force: true });
  });

  it('leaves a link target and a stage working outside alone, and removes a link as the link', async () => {
    writeFileSync(join(outside, 'victim.txt'), 'keep me');
    writeFileSync(join(outside, 'absolute.txt'), 'keep me too');
    writeFileSync(join(outside, 'through-cwd.txt'), 'and me');
    symlinkSync('../outside', join(workspace, 'link'));
    symlinkSync(join(outside, 'victim.txt'), join(workspace, 'file-link'));
    const log = new MemoryQueueLog();
    const logger = new MemoryLogger();
    const open = (): Promise<JobQueue> =>
      JobQueue.open({ log, runner: new FakeRunner(), clock: new ManualClock(), logger, baseDir: workspace, random: () => 0.5 });
    queue = await open();
    queue.start();
    const job = await queue.enqueue({
      definition: {
        name: 'escape',
        stages: [
          // An absolute working folder outside the workspace: its outputs are never touched.
          { name: 'abs', command: 'true', cwd: outside, outputs: ['absolute.txt'] },
          // A working folder inside the workspace by name, outside by its real path.
          { name: 'linked-cwd', command: 'true', cwd: 'link', outputs: ['through-cwd.txt'] },
          { name: 'links', command: 'true', outputs: ['link/victim.txt', 'file-link', 'link', 'inside.txt'] },
        ],
      },
    });
    await settle(queue);
    writeFileSync(join(workspace, 'inside.txt'), 'partial');
    // A restart with no supervisor to adopt the job leaves it interrupted.
    await queue.dispose();
    queue = await open();
    assert.equal(queue.getJob(job.id)?.state, 'interrupted');
    const done = new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (logger.lines.some((line) => line.message.includes('discarded "escape"'))) {
          clearInterval(check);
          resolve();
        }
      }, 5);
    });
    await queue.command({ type: 'discard', jobId: job.id });
    await done;
    assert.equal(readFileSync(join(outside, 'victim.txt'), 'utf8'), 'keep me', 'a file behind a link out of the workspace stays');
    assert.equal(
      readFileSync(join(outside, 'absolute.txt'), 'utf8'),
      'keep me too',
      'an output of a stage working outside the workspace stays',
    );
    assert.equal(readFileSync(join(outside, 'through-cwd.txt'), 'utf8'), 'and me', 'an output of a stage whose folder is a link out stays');
    assert.ok(!existsSync(join(workspace, 'inside.txt')), 'an output inside is removed');
    assert.throws(() => lstatSync(join(workspace, 'file-link')), 'a link declared as an output goes as the link');
    assert.throws(() => lstatSync(join(workspace, 'link')), 'a link to a folder goes as the link, not recursively through it');
    assert.ok(existsSync(outside));
    const warnings = logger.lines.filter((line) => line.level === 'warn').map((line) => line.message);
    assert.ok(
      warnings.some((message) => message.includes('absolute.txt') && message.includes('outside the workspace folder')),
      warnings.join('\n'),
    );
    assert.ok(
      warnings.some((message) => message.includes('link/victim.txt') && message.includes('through a link')),
      warnings.join('\n'),
    );
  });
});
