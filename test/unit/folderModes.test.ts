import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Archive } from '../../src/core/history/archive';
import { savePreMigrationCopy } from '../../src/core/history/preMigration';
import { loadSqlJs } from '../../src/core/history/sqlLoader';
import { loadSupervisorSecret, SUPERVISOR_SECRET_FILE } from '../../src/core/supervisors/supervisorAuth';
import { ViewStateFiles } from '../../src/core/storage/viewStateFiles';
import { wasmPath } from './history/historyFixtures';

const repoRoot = join(__dirname, '..', '..', '..');
const modeOf = (path: string): number => statSync(path).mode & 0o777;

/** Every folder Lifeline creates is its owner's only, whatever the umask; secrets are 0600. */
describe('security: folders Lifeline creates are 0700, its secrets 0600', () => {
  let dir: string;
  let umask: number;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-modes-'));
    // With no umask to narrow them, a folder created without an explicit mode would be 0777.
    umask = process.umask(0);
  });
  afterEach(() => {
    process.umask(umask);
    rmSync(dir, { recursive: true, force: true });
  });

  it('the history copy before a migration, view states, archive shards, and the supervisor secret', async () => {
    const copy = await savePreMigrationCopy(join(dir, 'history'), new Uint8Array([1, 2, 3]), 1, 2);
    assert.equal(modeOf(join(dir, 'history', 'pre-migration')), 0o700);
    assert.equal(modeOf(join(dir, 'history')), 0o700, 'and the folder made on the way');
    assert.equal(modeOf(copy), 0o600);

    const views = new ViewStateFiles(join(dir, 'views', 'state'), { delayMs: 1 });
    views.save('queue', { selected: 'x' });
    await views.flush();
    assert.equal(modeOf(join(dir, 'views')), 0o700);
    assert.equal(modeOf(join(dir, 'views', 'state')), 0o700);

    const SQL = await loadSqlJs(wasmPath);
    await Archive.open(SQL, join(dir, 'archive'));
    assert.equal(modeOf(join(dir, 'archive')), 0o700);
    assert.equal(modeOf(join(dir, 'archive', 'shards')), 0o700);

    const jobsDir = join(dir, 'jobs');
    mkdirSync(jobsDir);
    loadSupervisorSecret(jobsDir);
    assert.equal(modeOf(join(jobsDir, SUPERVISOR_SECRET_FILE)), 0o600);
  });

  it('every mkdir in src passes an explicit 0700 mode', () => {
    const files: string[] = [];
    const walk = (folder: string): void => {
      for (const entry of readdirSync(folder, { withFileTypes: true })) {
        if (entry.isDirectory()) walk(join(folder, entry.name));
        else if (entry.name.endsWith('.ts')) files.push(join(folder, entry.name));
      }
    };
    walk(join(repoRoot, 'src'));
    const missing: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/\bmkdir(?:Sync)?\(/g)) {
        const call = text.slice(match.index, text.indexOf(');', match.index));
        if (!/mode: 0o700/.test(call)) missing.push(`${relative(repoRoot, file)}: ${call.split('\n')[0]}`);
      }
    }
    assert.deepEqual(missing, []);
  });
});
