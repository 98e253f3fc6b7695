import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo, Server, Socket } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CodeServerStartError, prepareUserSettings, startCodeServer, waitForHttp } from '../../host/codeServer';
import { repoRoot } from '../../host/paths';

type StartPort = (argv: string[], env?: NodeJS.ProcessEnv) => { port: number } | { error: string };

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** `npm start`'s failures (issue 19): each one says what is wrong and stops, rather than hang or pretend. */
describe('npm start: what it does when something is wrong', () => {
  let startPort: StartPort;
  let folder: string;
  const servers: Server[] = [];
  const sockets: Socket[] = [];

  before(async () => {
    // A plain ES module of scripts/, as npm start loads it.
    ({ startPort } = (await import(pathToFileURL(join(repoRoot, 'scripts', 'startPort.mjs')).href)) as { startPort: StartPort });
  });
  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'lifeline-start-'));
  });
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    for (const server of servers.splice(0)) {
      (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    }
    rmSync(folder, { recursive: true, force: true });
  });

  it('--port abc names what was given, not NaN; a missing or out-of-range port is refused; a good one is taken', () => {
    assert.deepEqual(startPort(['--port', 'abc'], {}), { error: '--port "abc" is not a port: give a whole number from 1 to 65535' });
    assert.match((startPort(['--port'], {}) as { error: string }).error, /--port needs a number/);
    assert.match((startPort(['--port', '--verbose'], {}) as { error: string }).error, /--port needs a number/);
    for (const bad of ['0', '65536', '-1', '80.5', '1e3', '']) assert.ok('error' in startPort([`--port=${bad}`], {}), bad);
    assert.match((startPort([], { LIFELINE_PORT: 'eighty' }) as { error: string }).error, /^LIFELINE_PORT "eighty" is not a port/);
    assert.deepEqual(startPort(['--port', '9000'], {}), { port: 9000 });
    assert.deepEqual(startPort(['--port=9001'], { LIFELINE_PORT: '7000' }), { port: 9001 });
    assert.deepEqual(startPort([], { LIFELINE_PORT: '7000' }), { port: 7000 });
    assert.deepEqual(startPort([], {}), { port: 8080 });
  });

  it('a port held by something that accepts connections but never answers: the wait ends at its deadline, saying so', async () => {
    // It keeps every connection open and says nothing; afterEach destroys them.
    const silent = createServer((socket) => sockets.push(socket));
    servers.push(silent);
    const port = await listen(silent);
    const started = Date.now();
    await assert.rejects(
      waitForHttp(`http://127.0.0.1:${port}/healthz`, 1_500, () => false, 'the log', 300),
      (error: unknown) =>
        error instanceof CodeServerStartError && error.reason === 'noAnswer' && /no answer within 300 ms/.test(error.message),
    );
    assert.ok(Date.now() - started < 5_000, `gave up after ${Date.now() - started} ms`);
  });

  it('a port another server already serves (a healthy one, as another code-server): refused before anything starts', async () => {
    const other = createHttpServer((_request, response) => response.end('ok'));
    servers.push(other);
    const port = await listen(other);
    await assert.rejects(
      startCodeServer({ home: folder, port }),
      (error: unknown) => error instanceof CodeServerStartError && error.reason === 'portInUse' && error.message.includes(String(port)),
    );
  });

  it('a server that answered but whose own process exited meanwhile is not taken for ours', async () => {
    const other = createHttpServer((_request, response) => response.end('ok'));
    servers.push(other);
    const port = await listen(other);
    await assert.rejects(
      waitForHttp(`http://127.0.0.1:${port}/healthz`, 1_000, () => true, 'the log'),
      (error: unknown) => error instanceof CodeServerStartError && error.reason === 'exited',
    );
  });

  it("keeps the developer's settings.json on a restart, and writes the test settings where there is none", () => {
    const userData = join(folder, 'user-data');
    mkdirSync(join(userData, 'User'), { recursive: true });
    writeFileSync(join(userData, 'User', 'settings.json'), '{ "workbench.colorTheme": "Default High Contrast" }\n');
    prepareUserSettings(userData, undefined, true);
    assert.equal(readFileSync(join(userData, 'User', 'settings.json'), 'utf8'), '{ "workbench.colorTheme": "Default High Contrast" }\n');
    const fresh = join(folder, 'fresh');
    prepareUserSettings(fresh, undefined, true);
    assert.equal(
      (JSON.parse(readFileSync(join(fresh, 'User', 'settings.json'), 'utf8')) as Record<string, unknown>)['workbench.startupEditor'],
      'none',
    );
    // The tests' own runs start from the test settings every time.
    prepareUserSettings(userData);
    assert.equal(
      (JSON.parse(readFileSync(join(userData, 'User', 'settings.json'), 'utf8')) as Record<string, unknown>)['workbench.colorTheme'],
      undefined,
    );
  });
});
