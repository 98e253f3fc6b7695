import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { writeTrustRecord } from '../src/core/control/workspaceTrust';
import { nullLogger } from '../src/core/logger';
import { WorkspaceRuntime } from '../src/core/runtime/workspaceRuntime';
import { openWorkspaceDirectory } from '../src/core/storage/workspaceDirectory';
import type { BenchContext, BenchFigure, BenchSuite } from './harness';
import { percentile, round } from './harness';

const dist = join(__dirname, '..', '..', 'dist');

/** Runs a process to its end; rejects on a non-zero exit. */
function run(command: string, args: readonly string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited ${code}: ${stderr}`))));
  });
}

/** Waits for the file the job writes first thing, and reads the wall-clock time (ms) it wrote. */
async function startedAt(marker: string): Promise<number> {
  for (;;) {
    const text = await fs.readFile(marker, 'utf8').catch(() => '');
    if (/^\d+\n$/.test(text)) return Number(text.trim()) / 1e6;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/**
 * `lifeline add` from a terminal until the job's own process runs, against a bare spawn of the
 * same command from a shell (`sh -c`), measured alternately in the same run. The job's first act
 * is to write the wall clock in ns (`date +%s%N`), so the figure ends inside the job, as a user's
 * "it started" would. Two cases: a window (here a runtime in this process) holds the queue and the
 * command is its client, and no window is open, so the command takes the lease and starts the job itself.
 */
async function measure(context: BenchContext): Promise<BenchFigure[]> {
  const samples = Math.max(3, Math.round(15 * context.scale));
  const userData = join(context.scratchDir, 'user-data');
  const workspace = join(context.scratchDir, 'workspace');
  await fs.mkdir(workspace, { recursive: true });
  const directory = await openWorkspaceDirectory(join(userData, 'User', 'globalStorage', 'lifeline.lifeline'), `file:${workspace}`);
  await writeTrustRecord(directory.path, true);
  const lifeline = (args: string[]) =>
    run(process.execPath, [join(dist, 'lifeline.js'), ...args, '--workspace', workspace, '--user-data-dir', userData], workspace);
  let n = 0;
  const once = async (how: 'cli' | 'bare'): Promise<number> => {
    const marker = join(context.scratchDir, `m${n++}`);
    const command = `date +%s%N > ${marker}`;
    const begin = Date.now();
    if (how === 'cli') await lifeline(['add', command]);
    else await run('sh', ['-c', command], workspace);
    return (await startedAt(marker)) - begin;
  };
  const series = async (label: string): Promise<{ cli: number[]; bare: number[] }> => {
    const cli: number[] = [];
    const bare: number[] = [];
    await once('cli'); // warm the page cache for the bundle
    for (let i = 0; i < samples; i++) {
      cli.push(await once('cli'));
      bare.push(await once('bare'));
    }
    context.log(`${label}: cli p50 ${round(percentile(cli, 50))} ms, bare p50 ${round(percentile(bare, 50))} ms`);
    return { cli, bare };
  };

  const window = await WorkspaceRuntime.open({
    storageDirectory: directory.path,
    workspaceKey: `file:${workspace}`,
    baseDir: workspace,
    logger: nullLogger,
    role: 'bench',
    options: { concurrency: 4 },
    supervisorScript: join(dist, 'supervisor.js'),
    sqlWasmPath: join(dist, 'sql-wasm.wasm'),
  });
  const held = await series('a window holds the queue');
  await window.close();
  const alone = await series('no window');
  const bareP50 = percentile([...held.bare, ...alone.bare], 50);
  const figures: BenchFigure[] = [
    { name: 'cli.bareSpawn.p50Ms', value: round(bareP50), unit: 'ms', note: 'sh -c of the same command, the baseline' },
    {
      name: 'cli.addToRunning.p50Ms',
      value: round(percentile(held.cli, 50)),
      unit: 'ms',
      note: 'a window holds the queue: lifeline is its client',
    },
    { name: 'cli.addToRunning.ratioP50', value: round(percentile(held.cli, 50) / bareP50), unit: 'ratio' },
    {
      name: 'cli.addToRunning.noWindow.p50Ms',
      value: round(percentile(alone.cli, 50)),
      unit: 'ms',
      note: 'no window: lifeline takes the lease and starts the job',
    },
    { name: 'cli.addToRunning.noWindow.ratioP50', value: round(percentile(alone.cli, 50) / bareP50), unit: 'ratio' },
  ];
  return figures;
}

export const suite: BenchSuite = { name: 'cli', run: measure };
