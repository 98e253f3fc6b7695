import * as assert from 'node:assert/strict';
import { SUPERVISOR_PROTOCOL_VERSION } from '../../../src/shared/supervisor/supervisorWire';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobError } from '../../../src/core/queue/jobErrors';
import { identifyProcess } from '../../../src/shared/supervisor/node/processIdentity';
import { loadSupervisorSecret, SUPERVISOR_SECRET_FILE } from '../../../src/core/supervisors/supervisorAuth';
import { newNonce } from '../../../src/shared/supervisor/node/handshakeProof';
import { SupervisorConnection } from '../../../src/core/supervisors/supervisorConnection';
import { supervisorSocketPath } from '../../../src/core/supervisors/supervisorProtocol';
import { jobFilePaths } from '../../../src/shared/supervisor/node/jobFilePaths';
import { SupervisorRunner } from '../../../src/core/supervisors/supervisorRunner';
import { MemoryLogger } from '../../../src/core/logger';
import { createJournalFileSync, Journal } from '../../../src/core/storage/journal';
import { runRequest } from '../runnerTestKit';
import { killSupervisorsOf, supervisorScript } from './supervisorTestKit';

/** A raw connection that records what it is sent, line by line, and when it closes. */
function rawConnect(socketPath: string): Promise<{ socket: Socket; lines: string[]; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    const lines: string[] = [];
    let partial = '';
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      const parts = (partial + text).split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts);
    });
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolveClosed) => socket.once('close', () => resolveClosed()));
    socket.once('connect', () => resolve({ socket, lines, closed }));
    socket.once('error', reject);
  });
}

const line = (message: unknown): string => `${JSON.stringify(message)}\n`;

/** The host↔supervisor channel is authenticated in both directions (docs/security.md). */
describe('supervisor: the channel is authenticated both ways', function () {
  this.timeout(20_000);
  let dir: string;
  let jobsDir: string;
  const servers: Server[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-supauth-'));
    jobsDir = join(dir, 'jobs');
  });
  afterEach(() => {
    for (const server of servers.splice(0)) server.close();
    killSupervisorsOf(jobsDir);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a host without the secret cannot make a real supervisor run anything', async () => {
    const host = await SupervisorConnection.spawn({ script: supervisorScript, jobsDir, idleExitMs: 5000 });
    const key = join(jobsDir, SUPERVISOR_SECRET_FILE);
    assert.equal(statSync(key).mode & 0o777, 0o600, 'the secret is readable by its owner only');
    assert.ok(
      !readFileSync(`/proc/${host.hello.pid}/cmdline`, 'utf8').includes(readFileSync(key, 'utf8').trim()),
      'the secret is not on the command line',
    );
    assert.ok(
      !readFileSync(`/proc/${host.hello.pid}/environ`, 'utf8').includes(readFileSync(key, 'utf8').trim()),
      'nor in the environment',
    );
    const marker = join(dir, 'ran');
    const { journalPath, logPath } = jobFilePaths(jobsDir, 'forged', 1);
    const run = {
      op: 'run',
      request: runRequest(dir, 'forged', [`touch ${marker}`]),
      journalPath,
      logPath,
      logLimitBytes: 1024,
      heartbeatMs: 1000,
    };

    // A run with no handshake at all, as the old protocol allowed.
    const bare = await rawConnect(host.socketPath);
    bare.socket.write(line(run));
    // The old protocol's hello, then a run.
    const oldHello = await rawConnect(host.socketPath);
    oldHello.socket.write(line({ op: 'hello', protocol: 1 }) + line(run));
    // A proper hello, a guessed proof, then a run.
    const guessed = await rawConnect(host.socketPath);
    guessed.socket.write(line({ op: 'hello', protocol: 2, nonce: newNonce() }));
    await new Promise<void>((resolve) => guessed.socket.once('data', () => resolve()));
    guessed.socket.write(line({ op: 'auth', proof: randomBytes(32).toString('hex') }) + line(run));
    await Promise.all([bare.closed, oldHello.closed, guessed.closed]);

    assert.deepEqual(bare.lines, [], 'told nothing');
    assert.deepEqual(oldHello.lines, [], 'told nothing, not even which job it owns');
    assert.deepEqual(
      guessed.lines.map((text) => (JSON.parse(text) as { ev: string }).ev),
      ['challenge'],
      'only the challenge, which names no job',
    );
    // The real host, on its authenticated channel, still finds it idle: nothing was started.
    const again = await SupervisorConnection.connect(host.socketPath, { secret: loadSupervisorSecret(jobsDir) });
    assert.equal(again.hello.job, null);
    assert.equal(existsSync(journalPath), false);
    assert.equal(existsSync(marker), false);
    const log = readFileSync(join(jobsDir, 'supervisors.log'), 'utf8');
    assert.match(log, /refused a connection: no hello with a nonce first/);
    assert.match(log, /refused a connection: the host could not prove it knows the secret/);
    again.dispose();
    host.dispose();
  });

  it('a supervisor forged at a socket path the host reads from a journal is not trusted, and is sent nothing', async () => {
    mkdirSync(jobsDir, { recursive: true });
    const secret = loadSupervisorSecret(jobsDir);
    const received: string[] = [];
    // One forgery answers like a supervisor of the old protocol, the other with a challenge it cannot prove.
    const forge = (answer: (hello: { nonce?: string }) => unknown): Promise<string> => {
      const socketPath = supervisorSocketPath(jobsDir, randomBytes(6).toString('hex'));
      const server = createServer((socket) => {
        socket.setEncoding('utf8');
        socket.on('error', () => undefined);
        socket.on('data', (text: string) => {
          for (const got of text.split('\n').filter(Boolean)) {
            received.push(got);
            const message = JSON.parse(got) as { op: string; nonce?: string };
            if (message.op === 'hello') socket.write(line(answer(message)));
          }
        });
      });
      servers.push(server);
      return new Promise((resolve) => server.listen(socketPath, () => resolve(socketPath)));
    };
    const oldStyle = await forge(() => ({ ev: 'hello', protocol: 2, pid: process.pid, job: null }));
    const badProof = await forge(() => ({
      ev: 'challenge',
      protocol: SUPERVISOR_PROTOCOL_VERSION,
      nonce: newNonce(),
      proof: randomBytes(32).toString('hex'),
    }));
    await assert.rejects(SupervisorConnection.connect(oldStyle, { secret }), (error) => JobError.is(error, 'untrustedSupervisor'));
    await assert.rejects(SupervisorConnection.connect(badProof, { secret }), (error) => JobError.is(error, 'untrustedSupervisor'));

    // Through a journal: a live-looking run whose `started` record points at the forgery.
    const logger = new MemoryLogger();
    const runner = new SupervisorRunner({ jobsDir, supervisorScript, warmSupervisors: 0, logger });
    try {
      const { journalPath } = jobFilePaths(jobsDir, 'adopted', 1);
      const journal = new Journal(createJournalFileSync(journalPath, 1, undefined), 0, { writeOnCallingThread: true });
      await journal.append(
        Buffer.from(
          JSON.stringify({
            t: 'started',
            at: Date.now(),
            jobId: 'adopted',
            attempt: 1,
            supervisor: identifyProcess(process.pid),
            socketPath: badProof,
            fromStage: 0,
          }),
        ),
        () => undefined,
      );
      await journal.close();
      assert.equal(runner.adopt({ jobId: 'adopted', attempt: 1, pid: undefined }), true, 'the job is followed through its journal');
      await new Promise<void>((resolve) => {
        const check = setInterval(() => {
          if (logger.lines.some((entry) => entry.message.includes('cannot reach the supervisor of adopted'))) {
            clearInterval(check);
            resolve();
          }
        }, 5);
      });
      runner.kill('adopted');
      const warning = logger.lines.find((entry) => entry.message.includes('cannot reach the supervisor of adopted'));
      assert.match(warning?.message ?? '', /could not prove it knows the secret/);
    } finally {
      await runner.dispose();
    }
    const ops = received.map((text) => (JSON.parse(text) as { op: string }).op);
    assert.ok(ops.length >= 3 && ops.every((op) => op === 'hello'), `the forgeries heard only hellos: ${ops.join(', ')}`);
  });

  it('a key file left empty or damaged (a power cut before its data was on disk) is moved aside and replaced, so jobs still run', () => {
    for (const damaged of ['', 'not a secret\n', 'ab'.repeat(31)]) {
      const folder = mkdtempSync(join(dir, 'keys-'));
      writeFileSync(join(folder, SUPERVISOR_SECRET_FILE), damaged, { mode: 0o600 });
      const said: string[] = [];
      const secret = loadSupervisorSecret(folder, (detail) => said.push(detail));
      assert.equal(secret.length, 32);
      assert.equal(
        readFileSync(join(folder, SUPERVISOR_SECRET_FILE), 'utf8').trim(),
        secret.toString('hex'),
        'the new secret is the one on disk',
      );
      const aside = readdirSync(folder).filter((name) => name.startsWith(`${SUPERVISOR_SECRET_FILE}.damaged-`));
      assert.equal(aside.length, 1, 'the damaged file is kept, not deleted');
      assert.equal(readFileSync(join(folder, aside[0] ?? ''), 'utf8'), damaged);
      assert.equal(said.length, 1);
      assert.match(said[0] ?? '', /held no valid supervisor secret/);
      assert.deepEqual(
        loadSupervisorSecret(folder, (detail) => said.push(detail)),
        secret,
        'read back as it is, once valid',
      );
      assert.equal(said.length, 1);
    }
  });
});
