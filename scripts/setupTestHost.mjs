#!/usr/bin/env node
// Sets up the test host on first use: a real VS Code (code-server 4.100.3 from the npm registry)
// and playwright-core, in the git-ignored `.vscode-test/` folder, plus the Debian packages they need.
// Nothing is downloaded from anywhere but the npm registry and Debian. See docs/platform.md (the test hosts).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CODE_SERVER_VERSION = '4.100.3';
export const PLAYWRIGHT_VERSION = '1.65.1';
// @vscode/ripgrep (a code-server dependency) downloads rg from GitHub unless its cache holds this file.
const RIPGREP_CACHE = 'vscode-ripgrep-cache-1.15.11';
const RIPGREP_ASSET = 'ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz';
const DEBIAN_PACKAGES = [
  { name: 'chromium', binary: '/usr/bin/chromium' },
  { name: 'ripgrep', binary: '/usr/bin/rg' },
  { name: 'libkrb5-dev', file: '/usr/include/krb5.h' },
];

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const hostDir = join(root, '.vscode-test', 'code-server');
export const scratchDir = join(root, '.vscode-test', 'scratch');
export const codeServerBin = join(hostDir, 'node_modules', '.bin', 'code-server');

function log(message) {
  process.stderr.write(`[setup-test-host] ${message}\n`);
}

function ensureDebianPackages() {
  const missing = DEBIAN_PACKAGES.filter((p) => !existsSync(p.binary ?? p.file));
  if (missing.length === 0) return;
  const names = missing.map((p) => p.name).join(' ');
  if (process.getuid?.() !== 0) {
    throw new Error(
      `The test host needs the Debian packages: ${names}. Install them with:\n  sudo apt-get update && sudo apt-get install -y ${names}`,
    );
  }
  log(`installing Debian packages: ${names}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  execFileSync('apt-get', ['install', '-y', '-qq', ...missing.map((p) => p.name)], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env,
  });
}

function installedVersion(pkg) {
  try {
    return JSON.parse(readFileSync(join(hostDir, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

function isReady() {
  return (
    installedVersion('code-server') === CODE_SERVER_VERSION &&
    installedVersion('playwright-core') === PLAYWRIGHT_VERSION &&
    existsSync(join(hostDir, 'node_modules', 'code-server', 'lib', 'vscode', 'node_modules', '@vscode', 'ripgrep', 'bin', 'rg')) &&
    existsSync(join(hostDir, '.ready'))
  );
}

function installNpmPackages() {
  mkdirSync(hostDir, { recursive: true });
  mkdirSync(scratchDir, { recursive: true });
  // `npm init -y` refuses a folder named `.vscode-test`, and a caret range would float to a
  // code-server that needs Node 22: write the manifest by hand with exact pins.
  writeFileSync(
    join(hostDir, 'package.json'),
    JSON.stringify(
      {
        name: 'lifeline-test-host',
        private: true,
        description: 'Real VS Code (code-server) and playwright-core for Lifeline tests; not part of the extension.',
        dependencies: { 'code-server': CODE_SERVER_VERSION, 'playwright-core': PLAYWRIGHT_VERSION },
      },
      null,
      2,
    ),
  );
  rmSync(join(hostDir, '.ready'), { force: true });
  const tmp = join(scratchDir, 'npm-tmp');
  mkdirSync(join(tmp, RIPGREP_CACHE), { recursive: true });
  execFileSync('tar', ['czf', join(tmp, RIPGREP_CACHE, RIPGREP_ASSET), '-C', '/usr/bin', 'rg']);
  log(`installing code-server@${CODE_SERVER_VERSION} and playwright-core@${PLAYWRIGHT_VERSION} (about a minute)`);
  // HOME stays as it is (its npmrc points native builds at Node's headers); node-pty's build
  // runs npx, which needs yes=true; root needs --unsafe-perm for code-server's postinstall.
  const result = spawnSync(
    'npm',
    ['install', '--no-audit', '--no-fund', '--unsafe-perm=true', '--foreground-scripts', '--loglevel=error'],
    {
      cwd: hostDir,
      env: { ...process.env, npm_config_yes: 'true', TMPDIR: tmp },
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  if (result.status !== 0) {
    process.stderr.write(result.stdout.slice(-4000) + result.stderr.slice(-4000));
    throw new Error(`npm install of the test host failed with exit code ${result.status}`);
  }
  // npm 11 may skip install scripts silently: check that code-server's postinstall really ran.
  const vscodeModules = join(hostDir, 'node_modules', 'code-server', 'lib', 'vscode', 'node_modules');
  for (const required of ['@vscode/ripgrep/bin/rg', 'node-pty/build/Release/pty.node']) {
    if (!existsSync(join(vscodeModules, required))) {
      process.stderr.write(result.stdout.slice(-4000) + result.stderr.slice(-4000));
      throw new Error(`code-server's postinstall did not produce ${required}; see the output above`);
    }
  }
  writeFileSync(join(hostDir, '.ready'), `${new Date().toISOString()}\n`);
}

export function ensureTestHost() {
  ensureDebianPackages();
  if (isReady()) return;
  installNpmPackages();
  log('test host ready');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    ensureTestHost();
    log(`code-server ${CODE_SERVER_VERSION} and playwright-core ${PLAYWRIGHT_VERSION} are in ${hostDir}`);
  } catch (error) {
    log(error instanceof Error ? error.message : String(error));
    process.exit(1);
  }
}
