import { join, resolve } from 'node:path';

/** The repository root, whether this runs from test/host (ts) or out/test/host (js). */
export const repoRoot = resolve(__dirname, __dirname.includes(`${join('out', 'test')}`) ? '../../..' : '../..');
export const hostDir = join(repoRoot, '.vscode-test', 'code-server');
export const codeServerBin = join(hostDir, 'node_modules', '.bin', 'code-server');
export const runsDir = join(repoRoot, '.vscode-test', 'runs');
export const sampleWorkspace = join(repoRoot, 'samples', 'demo-workspace');
export const artifactsDir = join(repoRoot, 'test-results');
