import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync, appendFileSync, truncateSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { AesGcmCipher, generateKey } from '../../../src/core/storage/aesGcmCipher';
import { listJournals } from '../../../src/core/storage/durableLayout';
import { exportRecoveryKey } from '../../../src/core/storage/recoveryKey';
import { recordStarts } from '../../damage/damageKinds';
import { fillFolder, folderFingerprint, runCli, useStoreFolders } from './storeCliTestKit';

/** The queue's newest journal, where the runtime's commits since the last snapshot are. */
async function queueJournal(storage: string): Promise<string> {
  const journals = await listJournals({ directory: join(storage, 'queue'), name: 'queue' });
  const newest = journals.at(-1);
  assert.ok(newest, 'the queue has a journal');
  return newest.path;
}

interface Dump {
  queue: { jobs: { name: string; state: string }[] };
  history: { name: string; archived: boolean }[];
  state: Record<string, Record<string, unknown>> | null;
  problems: unknown[];
}

describe('lifeline-store, the offline command', function () {
  this.timeout(60_000);
  const folders = useStoreFolders();

  describe('on a healthy folder', () => {
    beforeEach(() => fillFolder(folders()));

    it('verify finds the folder from the workspace (code-server default or --user-data-dir) and reports it healthy without changing a byte', async () => {
      const { storage, workspace, home, userDataDir } = folders();
      const before = folderFingerprint(storage);
      const byHome = await runCli(['verify', '--workspace', workspace], { HOME: home, XDG_DATA_HOME: '', XDG_CONFIG_HOME: '' });
      assert.equal(byHome.status, 0, byHome.stderr + byHome.stdout);
      assert.match(byHome.stdout, /Healthy/);
      assert.match(byHome.stdout, /Queue: +3 job\(s\)/);
      assert.match(byHome.stdout, /History: +2 recent entries/);
      assert.match(byHome.stdout, /State: +1 key\(s\)/);
      const json = await runCli(['verify', '--workspace', workspace, '--user-data-dir', userDataDir, '--json']);
      assert.equal(json.status, 0, json.stderr);
      const report = JSON.parse(json.stdout) as { verdict: string; directory: string; problems: unknown[] };
      assert.equal(report.verdict, 'healthy');
      assert.equal(report.directory, storage);
      assert.deepEqual(report.problems, []);
      assert.deepEqual(folderFingerprint(storage), before, 'verify changed nothing');
    });

    it('dump prints the queue, the history and the state as JSON, to stdout or a new file', async () => {
      const { storage, root } = folders();
      const before = folderFingerprint(storage);
      const dumped = await runCli(['dump', '--dir', storage]);
      assert.equal(dumped.status, 0, dumped.stderr);
      const dump = JSON.parse(dumped.stdout) as Dump;
      assert.deepEqual(dump.queue.jobs.map((job) => [job.name, job.state]).sort(), [
        ['first', 'succeeded'],
        ['second', 'succeeded'],
        ['waiting', 'queued'],
      ]);
      assert.deepEqual(dump.history.map((entry) => entry.name).sort(), ['first', 'second']);
      assert.equal(dump.state?.test?.answer, 42);
      const out = join(root, 'dump.json');
      assert.equal((await runCli(['dump', '--dir', storage, '--out', out])).status, 0);
      assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), dump);
      const again = await runCli(['dump', '--dir', storage, '--out', out]);
      assert.equal(again.status, 1, 'an existing file is never overwritten');
      assert.match(again.stderr, /exists already/);
      assert.deepEqual(folderFingerprint(storage), before, 'dump changed nothing');
    });

    it('export-history writes CSV and JSON, read-only', async () => {
      const { storage } = folders();
      const before = folderFingerprint(storage);
      const csv = await runCli(['export-history', '--dir', storage]);
      assert.equal(csv.status, 0, csv.stderr);
      const lines = csv.stdout.trim().split(/\r\n/);
      assert.equal(lines.length, 3, 'a header and two entries');
      assert.match(lines[0] as string, /name/);
      const json = await runCli(['export-history', '--dir', storage, '--format', 'json']);
      assert.deepEqual((JSON.parse(json.stdout) as { name: string }[]).map((entry) => entry.name).sort(), ['first', 'second']);
      const bad = await runCli(['export-history', '--dir', storage, '--format', 'xml']);
      assert.equal(bad.status, 1);
      assert.match(bad.stderr, /--format must be one of csv, json/);
      assert.deepEqual(folderFingerprint(storage), before);
    });

    it('backup writes into backups/ and to a file; restore brings that state back after a safety backup, and a runtime opens it', async () => {
      const { storage, root } = folders();
      const made = await runCli(['backup', '--dir', storage, '--json']);
      assert.equal(made.status, 0, made.stderr);
      const info = JSON.parse(made.stdout) as { id: string; parts: { name: string }[] };
      assert.deepEqual(info.parts.map((part) => part.name).sort(), ['history', 'queue', 'state']);
      assert.ok(existsSync(join(storage, 'backups', info.id)));
      const file = join(root, 'copy.llbackup');
      assert.equal((await runCli(['backup', '--dir', storage, '--out', file])).status, 0);
      assert.ok(existsSync(file));

      // The queue moves on: a fourth job, and the state changes.
      const runtime = await folders().openRuntime();
      await runtime.queue.execute({ type: 'enqueue', definition: { name: 'later', command: 'echo later' } });
      await runtime.close();
      const afterChange = JSON.parse((await runCli(['dump', '--dir', storage])).stdout) as Dump;
      assert.equal(afterChange.queue.jobs.length, 4);

      const restored = await runCli(['restore', info.id, '--dir', storage]);
      assert.equal(restored.status, 0, restored.stderr);
      assert.match(restored.stdout, /The state from before is in .*beforeRestore/);
      const dump = JSON.parse((await runCli(['dump', '--dir', storage])).stdout) as Dump;
      assert.deepEqual(dump.queue.jobs.map((job) => job.name).sort(), ['first', 'second', 'waiting']);
      assert.ok(
        readdirSync(join(storage, 'backups')).some((name) => name.includes('-beforeRestore-')),
        'a safety backup first',
      );

      // A file from elsewhere restores the same way.
      assert.equal((await runCli(['restore', file, '--dir', storage])).status, 0);
      const reopened = await folders().openRuntime();
      assert.equal(reopened.queue.role, 'holder', 'the command released the lease');
      assert.deepEqual(reopened.queue.jobs.map((job) => job.name).sort(), ['first', 'second', 'waiting']);
    });

    it('restore refuses a garbage or truncated file and changes nothing', async () => {
      const { storage, root } = folders();
      const garbage = join(root, 'garbage.llbackup');
      writeFileSync(garbage, 'this is not a backup');
      const before = folderFingerprint(storage);
      const refused = await runCli(['restore', garbage, '--dir', storage]);
      assert.equal(refused.status, 1);
      assert.match(refused.stderr, /not a backup that can be restored/);
      const file = join(root, 'good.llbackup');
      assert.equal((await runCli(['backup', '--dir', storage, '--out', file])).status, 0);
      truncateSync(file, Math.floor(readFileSync(file).length / 2));
      const truncated = await runCli(['restore', file, '--dir', storage]);
      assert.equal(truncated.status, 1, truncated.stderr);
      const missing = await runCli(['restore', 'backup-nope.llbackup', '--dir', storage]);
      assert.equal(missing.status, 1);
      assert.match(missing.stderr, /There is no backup/);
      assert.deepEqual(folderFingerprint(storage), before, 'nothing was touched');
    });

    it('repair on a healthy folder has nothing to do', async () => {
      const { storage } = folders();
      const before = folderFingerprint(storage);
      const repaired = await runCli(['repair', '--dir', storage]);
      assert.equal(repaired.status, 0, repaired.stderr);
      assert.match(repaired.stdout, /Nothing to repair/);
      assert.deepEqual(folderFingerprint(storage), before);
    });
  });

  describe('on a damaged folder', () => {
    beforeEach(() => fillFolder(folders()));

    it('bytes after the clean end of the queue journal: verify says repairable (2) and changes nothing; repair fixes it with nothing lost', async () => {
      const { storage } = folders();
      appendFileSync(await queueJournal(storage), Buffer.alloc(40, 0x5a));
      const before = folderFingerprint(storage);
      const verified = await runCli(['verify', '--dir', storage]);
      assert.equal(verified.status, 2, verified.stdout + verified.stderr);
      assert.match(verified.stdout, /repairable +queue/);
      assert.deepEqual(folderFingerprint(storage), before, 'verify changed nothing');
      const repaired = await runCli(['repair', '--dir', storage, '--json']);
      assert.equal(repaired.status, 0, repaired.stdout + repaired.stderr);
      const report = JSON.parse(repaired.stdout) as { lost: boolean; setAside: string[] };
      assert.equal(report.lost, false);
      assert.ok(report.setAside.length > 0 && report.setAside.every((path) => existsSync(path)), 'the cut bytes are kept in quarantine');
      assert.equal((await runCli(['verify', '--dir', storage])).status, 0, 'healthy after the repair');
      const dump = JSON.parse((await runCli(['dump', '--dir', storage])).stdout) as Dump;
      assert.equal(dump.queue.jobs.length, 3, 'every job is still there');
    });

    it('an acknowledged record cut from the queue journal: verify says damaged (3) with what is lost; repair reports the loss and leaves a healthy folder', async () => {
      const { storage } = folders();
      const journal = await queueJournal(storage);
      const bytes = readFileSync(journal);
      const starts = recordStarts(bytes);
      assert.ok(starts && starts.starts.length > 0, 'the journal holds records');
      truncateSync(journal, starts.starts.at(-1));
      const before = folderFingerprint(storage);
      const verified = await runCli(['verify', '--dir', storage, '--json']);
      assert.equal(verified.status, 3, verified.stdout + verified.stderr);
      const report = JSON.parse(verified.stdout) as { verdict: string; problems: { where: string; severity: string; detail: string }[] };
      assert.equal(report.verdict, 'damaged');
      assert.ok(
        report.problems.some(
          (problem) => problem.where === 'queue' && problem.severity === 'lost' && /1 acknowledged record/.test(problem.detail),
        ),
      );
      assert.deepEqual(folderFingerprint(storage), before, 'verify changed nothing');
      const repaired = await runCli(['repair', '--dir', storage]);
      assert.equal(repaired.status, 3, repaired.stdout + repaired.stderr);
      assert.match(repaired.stdout, /LOST +queue: 1 acknowledged record/);
      assert.match(repaired.stdout, /Repaired with a loss/);
      assert.equal((await runCli(['verify', '--dir', storage])).status, 0, 'healthy after the repair');
    });

    it('a damaged backup file is reported (2) and repair moves it aside', async () => {
      const { storage } = folders();
      const made = JSON.parse((await runCli(['backup', '--dir', storage, '--json'])).stdout) as { id: string };
      const path = join(storage, 'backups', made.id);
      const bytes = readFileSync(path);
      bytes[bytes.length - 10] = (bytes[bytes.length - 10] ?? 0) ^ 0xff;
      writeFileSync(path, bytes);
      const verified = await runCli(['verify', '--dir', storage]);
      assert.equal(verified.status, 2, verified.stdout);
      assert.match(verified.stdout, new RegExp(`backup ${made.id}: does not verify`));
      assert.equal((await runCli(['repair', '--dir', storage])).status, 0);
      assert.ok(!existsSync(path));
      assert.ok(readdirSync(join(storage, 'quarantine')).some((name) => name.startsWith(made.id)));
      assert.equal((await runCli(['verify', '--dir', storage])).status, 0);
    });
  });

  describe('on an encrypted store', () => {
    const key = generateKey();
    beforeEach(() => fillFolder(folders(), { stateCipher: new AesGcmCipher(key) }));

    it('without the key every command says so, exits 4 and touches nothing; with the recovery key it reads the store', async () => {
      const { storage, root } = folders();
      const before = folderFingerprint(storage);
      for (const args of [['verify'], ['dump'], ['repair'], ['backup'], ['export-history'], ['restore', join(root, 'none.llbackup')]]) {
        const run = await runCli([...args, '--dir', storage]);
        assert.equal(run.status, 4, `${args[0]}: ${run.stderr}`);
        assert.match(run.stderr, /state store .* is encrypted .*recovery-key.*nothing was touched/);
      }
      const wrong = await runCli(['verify', '--dir', storage, '--recovery-key', exportRecoveryKey(generateKey())]);
      assert.equal(wrong.status, 4);
      assert.match(wrong.stderr, /encrypted with another key/);
      const typo = await runCli(['verify', '--dir', storage, '--recovery-key', 'not-a-key']);
      assert.equal(typo.status, 1);
      assert.deepEqual(folderFingerprint(storage), before, 'nothing was touched');
      const dumped = await runCli(['dump', '--dir', storage], { LIFELINE_RECOVERY_KEY: exportRecoveryKey(key) });
      assert.equal(dumped.status, 0, dumped.stderr);
      assert.equal((JSON.parse(dumped.stdout) as Dump).state?.test?.answer, 42);
    });
  });

  describe('on a folder a live window holds', () => {
    beforeEach(() => fillFolder(folders()));

    it('refuses every write and says which process holds it, while reads still work', async () => {
      const { storage, root } = folders();
      const runtime = await folders().openRuntime();
      assert.equal(runtime.queue.role, 'holder');
      const file = join(root, 'elsewhere.llbackup');
      assert.equal((await runCli(['backup', '--dir', storage, '--out', file])).status, 0, 'a backup to a file needs no lease');
      for (const args of [['repair'], ['backup'], ['restore', file]]) {
        const run = await runCli([...args, '--dir', storage]);
        assert.equal(run.status, 5, `${args[0]}: ${run.stderr}`);
        assert.match(run.stderr, new RegExp(`pid ${process.pid} on ${hostname()} \\(this machine\\), holding it since \\d{4}-`));
        assert.match(run.stderr, /nothing was written/);
      }
      const verified = await runCli(['verify', '--dir', storage]);
      assert.match(verified.stdout, new RegExp(`Lease: +pid ${process.pid}`));
      assert.equal(runtime.queue.role, 'holder', 'the window kept the queue');
      assert.equal(runtime.queue.jobs.length, 3);
    });

    it('while a write runs, the command holds the lease itself: a window that opens then waits and gets the queue after', async () => {
      const { storage } = folders();
      // A lease whose holder is dead (this machine, no such pid) is taken over, as a window takes it over.
      writeFileSync(
        join(storage, 'queue.lease'),
        JSON.stringify({
          version: 1,
          pid: 2 ** 22 + 17,
          hostname: hostname(),
          activationId: 'gone',
          heartbeatAt: 0,
          state: 'held',
          socketPath: '',
          token: 'x',
        }),
      );
      const backup = await runCli(['backup', '--dir', storage]);
      assert.equal(backup.status, 0, backup.stderr);
      assert.ok(!existsSync(join(storage, 'queue.lease')), 'released after');
      const runtime = await folders().openRuntime();
      assert.equal(runtime.queue.role, 'holder');
    });
  });

  describe('bad input', () => {
    beforeEach(() => fillFolder(folders()));

    it('gives a clear error and a non-zero exit for each, and --help for each command', async () => {
      const { storage, root, workspace } = folders();
      const cases: [string[], number, RegExp][] = [
        [[], 1, /Usage: lifeline-store <command>/],
        [['frobnicate', '--dir', storage], 1, /Unknown command "frobnicate"/],
        [['verify', '--dir', storage, '--frob'], 1, /Unknown option --frob for "verify"/],
        [['verify'], 1, /Which storage folder\?/],
        [['verify', '--dir', storage, '--workspace', workspace], 1, /either --dir or --workspace/],
        [['verify', '--dir', join(root, 'missing')], 1, /does not exist/],
        [['verify', '--dir', root], 1, /is not a Lifeline storage folder/],
        [['verify', '--workspace', join(root, 'home')], 1, /No Lifeline storage folder for file:/],
        [['verify', '--dir'], 1, /--dir needs a value/],
        [['restore', '--dir', storage], 1, /"restore" takes BACKUP/],
        [['dump', 'extra', '--dir', storage], 1, /"dump" takes no argument/],
      ];
      for (const [args, status, message] of cases) {
        const run = await runCli(args, { HOME: join(root, 'home'), XDG_DATA_HOME: '', XDG_CONFIG_HOME: '' });
        assert.equal(run.status, status, `${args.join(' ')}: ${run.stderr}`);
        assert.match(run.stderr, message, args.join(' '));
      }
      for (const command of ['verify', 'dump', 'repair', 'backup', 'restore', 'export-history']) {
        const help = await runCli([command, '--help']);
        assert.equal(help.status, 0);
        assert.match(help.stdout, new RegExp(`Usage: lifeline-store ${command}`));
      }
    });
  });
});
