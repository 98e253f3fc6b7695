import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AllowedFolders, ALLOWED_FOLDERS_FILE } from '../../../src/core/workspaceConfig/allowedFolders';
import { foldersOutside, isInside } from '../../../src/core/workspaceConfig/jobFolders';
import { WorkspaceConfigReader } from '../../../src/core/workspaceConfig/workspaceConfigReader';
import { MemoryLogger } from '../../../src/core/logger';
import type { WorkspaceConfig } from '../../../src/shared/workspaceConfig';

describe('jobs: working folders outside the workspace', () => {
  let dir: string;
  let workspace: string;
  let outside: string;

  beforeEach(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'lifeline-folders-')));
    workspace = join(dir, 'ws');
    outside = join(dir, 'elsewhere');
    mkdirSync(join(workspace, 'sub', 'deeper'), { recursive: true });
    mkdirSync(outside);
    symlinkSync(outside, join(workspace, 'link'));
    symlinkSync(join(workspace, 'sub'), join(workspace, 'inner-link'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const config = (jobs: WorkspaceConfig['jobs']): WorkspaceConfig => ({ version: 1, jobs });

  it('flags a cwd that leaves through "..", an absolute path or a symlink, at its field', () => {
    const found = foldersOutside(
      config([
        { name: 'up', command: 'x', cwd: '..' },
        { name: 'absolute', command: 'x', cwd: outside },
        { name: 'linked', command: 'x', cwd: 'link' },
        {
          name: 'stages',
          cwd: 'sub',
          stages: [
            { name: 'in', command: 'x', cwd: 'deeper' },
            { name: 'out', command: 'x', cwd: '../../elsewhere' },
            { name: 'new', command: 'x', cwd: '../link/not-yet' },
          ],
        },
      ]),
      workspace,
    );
    assert.deepEqual(
      found.map((f) => ({ job: f.jobName, path: f.path.join('.'), folder: f.folder })),
      [
        { job: 'up', path: 'jobs.0.cwd', folder: dir },
        { job: 'absolute', path: 'jobs.1.cwd', folder: outside },
        { job: 'linked', path: 'jobs.2.cwd', folder: outside },
        { job: 'stages', path: 'jobs.3.stages.1.cwd', folder: outside },
        // Not created yet, below a link that leads out: caught through its nearest existing folder.
        { job: 'stages', path: 'jobs.3.stages.2.cwd', folder: join(outside, 'not-yet') },
      ],
    );
  });

  it('lets folders inside the workspace be, however they are written', () => {
    const found = foldersOutside(
      config([
        { name: 'plain', command: 'x', cwd: 'sub' },
        { name: 'root', command: 'x', cwd: '.' },
        { name: 'round trip', command: 'x', cwd: '../ws/sub' },
        { name: 'absolute inside', command: 'x', cwd: join(workspace, 'sub') },
        { name: 'link inside', command: 'x', cwd: 'inner-link/deeper' },
        { name: 'dots in a name', command: 'x', cwd: '..hidden' },
        { name: 'none', stages: [{ name: 's', command: 'x' }] },
      ]),
      workspace,
    );
    assert.deepEqual(found, []);
  });

  it('resolves the workspace folder itself through a symlink', () => {
    const linkedWorkspace = join(dir, 'ws-link');
    symlinkSync(workspace, linkedWorkspace);
    assert.deepEqual(foldersOutside(config([{ name: 'a', command: 'x', cwd: join(workspace, 'sub') }]), linkedWorkspace), []);
    assert.equal(foldersOutside(config([{ name: 'b', command: 'x', cwd: '../elsewhere' }]), linkedWorkspace)[0]?.folder, outside);
  });

  it('tells inside from outside by path segments, not by prefix', () => {
    assert.ok(isInside('/a/b', '/a/b'));
    assert.ok(isInside('/a/b/c', '/a/b'));
    assert.ok(!isInside('/a/bc', '/a/b'));
    assert.ok(!isInside('/a', '/a/b'));
    assert.ok(isInside('/a/b/..c', '/a/b'));
  });

  it('remembers an allowed job and folder on disk, for this job only', async () => {
    const storage = join(dir, 'storage');
    const first = new AllowedFolders(storage, new MemoryLogger());
    await first.load();
    assert.equal(first.isAllowed('a', outside), false);
    await first.allow('a', [outside]);
    assert.equal(first.isAllowed('a', outside), true);
    const again = new AllowedFolders(storage, new MemoryLogger());
    await again.load();
    assert.equal(again.isAllowed('a', outside), true, 'read back from the file');
    assert.equal(again.isAllowed('b', outside), false);
    assert.equal(again.isAllowed('a', dir), false);
  });

  it('allows nothing from a corrupt file, and says so', async () => {
    const storage = join(dir, 'storage');
    mkdirSync(storage);
    writeFileSync(join(storage, ALLOWED_FOLDERS_FILE), '{ not json');
    const logger = new MemoryLogger();
    const allowed = new AllowedFolders(storage, logger);
    await allowed.load();
    assert.equal(allowed.isAllowed('a', outside), false);
    assert.ok(logger.lines.some((line) => line.level === 'warn' && line.message.includes(ALLOWED_FOLDERS_FILE)));
    await allowed.allow('a', [outside]);
    assert.equal(allowed.isAllowed('a', outside), true, 'a new allowance replaces the corrupt file');
  });

  it('warns at the cwd field of a job not yet allowed, and stops once it is', async () => {
    const allowed = new AllowedFolders(join(dir, 'storage'), new MemoryLogger());
    const reader = new WorkspaceConfigReader(workspace, new MemoryLogger(), allowed);
    const text = '{\n  "version": 1,\n  "jobs": [{ "name": "up", "command": "x", "cwd": ".." }]\n}';
    const before = reader.read({ text });
    assert.equal(before.problem, undefined, 'the file is valid');
    assert.equal(before.definitions.length, 1);
    assert.equal(before.warnings.length, 1);
    assert.deepEqual([...before.askBeforeRunning], ['up']);
    const [warning] = before.warnings;
    assert.ok(warning);
    assert.equal(warning.path, 'jobs[0].cwd');
    assert.match(warning.message, new RegExp(`"up" would run in ${dir}, outside the workspace folder`));
    assert.equal(text.slice(warning.offset, warning.offset + warning.length), '".."');
    assert.equal(warning.line, 3);
    await allowed.allow('up', [dir]);
    const after = reader.read({ text });
    assert.deepEqual(after.warnings, []);
    assert.equal(after.askBeforeRunning.size, 0);
  });
});
