import * as assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { JobQueue } from '../../../src/core/queue/jobQueue';
import { QueueClient } from '../../../src/core/session/queueClient';
import { MemoryQueueLog } from '../../../src/core/queue/queueLog';
import type { QueueSocketLimits } from '../../../src/core/session/queueProtocol';
import { QueueServer } from '../../../src/core/session/queueServer';
import { MemoryLogger } from '../../../src/core/logger';
import { FakeRunner } from '../queue/jobTestKit';

/** A raw connection to the holder that records every byte it is sent and when it closes. */
interface Probe {
  readonly socket: Socket;
  readonly received: string[];
  readonly closed: Promise<number>;
}

function probe(socketPath: string): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    const received: string[] = [];
    const opened = Date.now();
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => received.push(chunk));
    socket.on('error', () => undefined);
    const closed = new Promise<number>((resolveClosed) => socket.once('close', () => resolveClosed(Date.now() - opened)));
    socket.once('connect', () => resolve({ socket, received, closed }));
    socket.once('error', reject);
  });
}

function drainedOrClosed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

/** The holder's socket trusts no connection before its hello and cannot be worn down by many (docs/security.md). */
describe('jobs: the queue socket tells nothing before a hello and bounds what it accepts', () => {
  let dir: string;
  let queue: JobQueue;
  let server: QueueServer | undefined;
  let logger: MemoryLogger;
  const token = randomUUID();
  const clients: QueueClient[] = [];
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-qs-'));
    logger = new MemoryLogger();
    queue = await JobQueue.open({ log: new MemoryQueueLog(), runner: new FakeRunner(), logger, baseDir: dir });
    await queue.command({ type: 'setPaused', paused: true });
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.dispose();
    await server?.close();
    server = undefined;
    await queue.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const listen = async (limits: Partial<QueueSocketLimits> = {}): Promise<string> => {
    const socketPath = join(dir, 'q.sock');
    server = await QueueServer.listen(socketPath, token, queue, logger, limits);
    return socketPath;
  };

  it('sends a connection without the token no event, and closes it by the hello deadline', async () => {
    const socketPath = await listen();
    const silent = await probe(socketPath);
    for (let i = 0; i < 5; i++) {
      await queue.enqueue({ definition: { name: `secret-${i}`, command: 'echo s3cret', env: { API_KEY: 'hunter2' } } });
    }
    const lifetime = await silent.closed;
    assert.equal(silent.received.join(''), '', 'nothing is sent before a hello');
    assert.ok(lifetime < 2000 + 1000, `closed after ${lifetime} ms; the deadline is 2000 ms`);
  });

  it('closes a connection that sends a wrong token, or a command first, and tells it nothing', async () => {
    const socketPath = await listen();
    const wrong = await probe(socketPath);
    wrong.socket.write(`${JSON.stringify({ t: 'hello', token: randomUUID() })}\n`);
    const commandFirst = await probe(socketPath);
    commandFirst.socket.write(
      `${JSON.stringify({ t: 'command', commandId: randomUUID(), command: { type: 'setPaused', paused: false } })}\n`,
    );
    await queue.enqueue({ definition: { name: 'meanwhile', command: 'true' } });
    await Promise.all([wrong.closed, commandFirst.closed]);
    assert.equal(wrong.received.join('') + commandFirst.received.join(''), '');
    assert.equal(queue.flags.paused, true, 'the command before a hello did nothing');
    const client = await QueueClient.connect(socketPath, token);
    clients.push(client);
    assert.deepEqual(
      [...client.jobs.values()].map((job) => job.name),
      ['meanwhile'],
      'the right token still gets the queue',
    );
  });

  it('closes connections streaming without a newline once past the hello cap, and stays responsive meanwhile', async function () {
    this.timeout(60_000);
    const socketPath = await listen();
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    // Each streams up to 64 MiB of garbage with no newline, as fast as the holder takes it.
    const chunk = randomBytes(64 * 1024)
      .toString('hex')
      .replace(/\n/g, 'x')
      .slice(0, 64 * 1024);
    const attempted = 64 * 1024 * 1024;
    const streamers = await Promise.all(Array.from({ length: 6 }, () => probe(socketPath)));
    const written = streamers.map(async (streamer) => {
      let sent = 0;
      let open = true;
      void streamer.closed.then(() => (open = false));
      while (open && sent < attempted) {
        sent += chunk.length;
        if (!streamer.socket.write(chunk)) await drainedOrClosed(streamer.socket);
      }
      await streamer.closed;
      return sent;
    });
    // A real client works meanwhile.
    const client = await QueueClient.connect(socketPath, token);
    clients.push(client);
    const sent = await Promise.all(written);
    delay.disable();
    for (const bytes of sent) {
      assert.ok(bytes < 2 * 1024 * 1024, `a streamer got ${bytes} bytes in before it was closed; the cap is 4 KiB plus socket buffers`);
    }
    assert.equal(server?.connectionCounts.open, 1, 'only the authenticated client is left');
    // For the report: the longest stall of the event loop while the six streamed.
    console.log(
      `      event loop delay during the flood: max ${(delay.max / 1e6).toFixed(1)} ms, mean ${(delay.mean / 1e6).toFixed(1)} ms`,
    );
  });

  it('closes an authenticated client whose line grows past the command cap', async () => {
    const socketPath = await listen({ maxCommandChars: 64 * 1024 });
    const authed = await probe(socketPath);
    authed.socket.write(`${JSON.stringify({ t: 'hello', token })}\n`);
    const chunk = 'x'.repeat(16 * 1024);
    let sent = 0;
    let open = true;
    void authed.closed.then(() => (open = false));
    while (open && sent < 64 * 1024 * 1024) {
      sent += chunk.length;
      if (!authed.socket.write(chunk)) await drainedOrClosed(authed.socket);
    }
    await authed.closed;
    assert.ok(authed.received.join('').startsWith('{"t":"welcome"'), 'it was welcomed first');
    assert.ok(sent < 2 * 1024 * 1024, `it got ${sent} bytes in before it was closed; the cap is 64 KiB plus socket buffers`);
  });

  it('refuses connections beyond the limit at once', async () => {
    // A hello deadline far beyond the test's own timeout: only the limit can close the extra connection.
    const socketPath = await listen({ maxConnections: 3, helloTimeoutMs: 600_000 });
    const client = await QueueClient.connect(socketPath, token);
    clients.push(client);
    const idle = await Promise.all([probe(socketPath), probe(socketPath)]);
    const extra = await probe(socketPath);
    await extra.closed;
    assert.equal(extra.received.join(''), '');
    assert.equal(server?.connectionCounts.refused, 1);
    for (const connection of idle) connection.socket.destroy();
  });

  it('answers commands beyond the in-flight limit of a client with a typed error', async () => {
    const socketPath = await listen({ maxInFlightPerClient: 2 });
    // Ten commands in one write are all read before the first is answered.
    const authed = await probe(socketPath);
    const ids = Array.from({ length: 10 }, () => randomUUID());
    authed.socket.write(
      [
        JSON.stringify({ t: 'hello', token }),
        ...ids.map((commandId) => JSON.stringify({ t: 'command', commandId, command: { type: 'setAutoRun', autoRun: false } })),
      ].join('\n') + '\n',
    );
    const answers = new Map<string, { t: string; reason?: string }>();
    let partial = '';
    await new Promise<void>((resolve) => {
      authed.socket.on('data', (text: string) => {
        const lines = (partial + text).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          const message = JSON.parse(line) as { t: string; commandId?: string; reason?: string };
          if (message.commandId) answers.set(message.commandId, message);
        }
        if (answers.size === ids.length) resolve();
      });
    });
    const outcomes = ids.map((id) => answers.get(id));
    assert.equal(outcomes.filter((answer) => answer?.t === 'result').length, 2);
    assert.ok(
      outcomes.slice(2).every((answer) => answer?.t === 'error' && answer.reason === 'overloaded'),
      JSON.stringify(outcomes),
    );
    authed.socket.destroy();
  });
});
