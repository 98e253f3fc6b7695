import { join, resolve } from 'node:path';

/** The repository root, whether this runs from test/host (ts) or out/test/host (js). */
export const repoRoot = resolve(__dirname, __dirname.includes(`${join('out', 'test')}`) ? '../../..' : '../..');
/** The oldest test host's folder, which also holds playwright-core (test/host/testHost.ts has every host). */
export const hostDir = join(repoRoot, '.vscode-test', 'code-server');
export const runsDir = join(repoRoot, '.vscode-test', 'runs');
export const sampleWorkspace = join(repoRoot, 'samples', 'demo-workspace');
/** Screenshots: test-results/ for the oldest host, test-results/<host>/ for another (LIFELINE_TEST_HOST). */
export const artifactsDir = join(repoRoot, 'test-results', ...(process.env.LIFELINE_TEST_HOST === 'newest' ? ['newest'] : []));
