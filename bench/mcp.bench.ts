import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { writeTrustRecord } from '../src/core/control/workspaceTrust';
import type { JobView } from '../src/core/control/jobView';
import { openWorkspaceDirectory } from '../src/core/storage/workspaceDirectory';
import type { JobResult } from '../src/mcp/mcpResults';
import type { BenchContext, BenchFigure, BenchSuite } from './harness';
import { percentile } from './harness';

/**
 * `mcp.runToResult`: an agent's trivial job through `lifeline mcp` (dist/lifeline.js, started once
 * and holding the queue, as an agent keeps its server), from the run_job call to the
 * wait_for_jobs answer with the job's result, against a bare spawn of the same command from a
 * shell until it exits, measured in the same run and interleaved with it.
 */

const root = join(__dirname, '..', '..');
const lifeline = join(root, 'dist', 'lifeline.js');
const COMMAND = 'true';

function ensureBundle(log: (message: string) => void): void {
  if (existsSync(lifeline)) return;
  log('dist/lifeline.js is missing: running node esbuild.mjs');
  const build = spawnSync(process.execPath, [join(root, 'esbuild.mjs')], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0 || !existsSync(lifeline)) throw new Error(`could not build ${lifeline} (exit ${build.status})`);
}

function bareSpawn(): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', COMMAND], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', () => resolve(performance.now() - started));
  });
}

async function runToResult(client: Client): Promise<number> {
  const started = performance.now();
  const run = (await client.callTool({ name: 'run_job', arguments: { command: COMMAND } })) as CallToolResult;
  const id = (run.structuredContent as JobResult | undefined)?.job.id;
  if (!id) throw new Error(`run_job did not queue a job: ${JSON.stringify(run.content)}`);
  const waited = (await client.callTool({ name: 'wait_for_jobs', arguments: { ids: [id], timeoutSeconds: 60 } })) as CallToolResult;
  const elapsed = performance.now() - started;
  const job = (waited.structuredContent as { jobs: JobView[] } | undefined)?.jobs[0];
  if (job?.state !== 'succeeded') throw new Error(`the job did not succeed: ${JSON.stringify(waited.content)}`);
  return elapsed;
}

async function run(context: BenchContext): Promise<BenchFigure[]> {
  ensureBundle(context.log);
  const workspace = join(context.scratchDir, 'workspace');
  const userDataDir = join(context.scratchDir, 'user-data');
  mkdirSync(workspace, { recursive: true });
  const storage = await openWorkspaceDirectory(join(userDataDir, 'User', 'globalStorage', 'lifeline.lifeline'), `file:${workspace}`);
  await writeTrustRecord(storage.path, true);
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !key.startsWith('LIFELINE_')) env[key] = value;
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [lifeline, 'mcp', '--workspace', workspace, '--user-data-dir', userDataDir],
    env,
    stderr: 'ignore',
  });
  const client = new Client({ name: 'lifeline-bench', version: '1.0.0' });
  await client.connect(transport);
  const samples = Math.max(5, Math.round(30 * context.scale));
  const mcp: number[] = [];
  const bare: number[] = [];
  try {
    // Warm up: the workspace opens on the first call, the supervisor pool fills.
    await runToResult(client);
    await bareSpawn();
    for (let i = 0; i < samples; i++) {
      mcp.push(await runToResult(client));
      bare.push(await bareSpawn());
    }
  } finally {
    await client.close();
  }
  const note = `${samples} runs of \`${COMMAND}\`, median`;
  return [
    { name: 'mcp.runToResult.p50Ms', value: percentile(mcp, 50), unit: 'ms', note: `run_job to wait_for_jobs' answer; ${note}` },
    { name: 'mcp.runToResult.p99Ms', value: percentile(mcp, 99), unit: 'ms', note: `${samples} runs` },
    { name: 'mcp.bareSpawn.p50Ms', value: percentile(bare, 50), unit: 'ms', note: 'sh -c of the same command to its exit, same run' },
  ];
}

export const suite: BenchSuite = { name: 'mcp', run };
