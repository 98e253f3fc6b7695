import * as assert from 'node:assert/strict';
import { nullLogger } from '../../../src/core/logger';
import type { WindowPresence, WindowReply } from '../../../src/core/runtime/windowHandOver';
import { askHolderForItsWindow, WINDOW_SERVICE, windowServiceHandler } from '../../../src/core/runtime/windowHandOver';
import { ServiceError } from '../../../src/core/session/sessionServices';
import { until, useRuntimeFolders } from './runtimeTestKit';

const ASK = { op: 'clientWindowOpened' };

/** A window that answers (or never does: a browser that is gone), counting the hand-overs asked of it. */
function presence(answers: boolean): WindowPresence & { handOvers: number } {
  const window = {
    handOvers: 0,
    answers: () => (answers ? Promise.resolve() : new Promise<void>(() => undefined)),
    handOver: () => {
      window.handOvers++;
    },
  };
  return window;
}

describe('window hand-over: a holder whose window is gone gives the queue to a window that opens', () => {
  it('a holder whose window answers keeps the queue', async () => {
    const window = presence(true);
    assert.deepEqual(await windowServiceHandler(window, nullLogger, 200)(ASK), { handingOver: false });
    assert.equal(window.handOvers, 0);
  });

  it('a holder whose window does not answer in time hands over, once, after its reply', async () => {
    const window = presence(false);
    const handle = windowServiceHandler(window, nullLogger, 50);
    const reply = (await handle(ASK)) as WindowReply;
    assert.deepEqual(reply, { handingOver: true });
    assert.equal(window.handOvers, 0, 'the hand-over waits for the reply to go out');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(window.handOvers, 1);
    assert.deepEqual(await handle(ASK), { handingOver: true });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(window.handOvers, 1, 'a second window asking does not hand over twice');
  });

  it('a holder without a window (lifeline, lifeline mcp) keeps the queue', async () => {
    assert.deepEqual(await windowServiceHandler(undefined, nullLogger)(ASK), { handingOver: false });
  });

  it('refuses a malformed or hostile request with a typed error and does nothing', async () => {
    const window = presence(false);
    const handle = windowServiceHandler(window, nullLogger, 10);
    for (const body of [
      undefined,
      null,
      'clientWindowOpened',
      {},
      { op: 'handOver' },
      { ...ASK, extra: 1 },
      JSON.parse('{"__proto__":{"op":"clientWindowOpened"}}'),
    ]) {
      await assert.rejects(
        handle(body),
        (error: unknown) => error instanceof ServiceError && error.reason === 'invalidRequest',
        JSON.stringify(body),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(window.handOvers, 0);
  });

  describe('over a real queue socket, between two runtimes of one workspace', () => {
    const folders = useRuntimeFolders();

    it('a client asks; the holder whose window is gone closes and the client takes the queue and the history, with the job it ran', async function () {
      this.timeout(30_000);
      const gone: WindowPresence = {
        answers: () => new Promise<void>(() => undefined),
        handOver: () => void first.close(),
      };
      const first = await folders.open({ windowPresence: gone, options: { concurrency: 1 } });
      const { jobId } = await first.queue.execute({ type: 'enqueue', definition: { name: 'long', command: 'sleep 3; echo done' } });
      await until(first.queue.onDidChange, () => first.queue.getJob(jobId as string)?.pid !== undefined, 'the job to run');
      const second = await folders.open({ windowPresence: presence(true) });
      assert.equal(second.queue.role, 'client');
      await askHolderForItsWindow((service, body) => second.queue.request(service, body), nullLogger);
      await until(second.queue.onDidChangeRole, () => second.queue.role === 'holder', 'the asking window to take the queue');
      assert.ok(await second.history.whenOpen(), 'and its history');
      await until(second.queue.onDidChange, () => second.queue.getJob(jobId as string)?.state === 'succeeded', 'the adopted job to finish');
      assert.equal(second.queue.getJob(jobId as string)?.result?.exitCode, 0);
    });

    it('a client asks a holder whose window answers: nothing changes', async () => {
      const first = await folders.open({ windowPresence: presence(true) });
      const second = await folders.open();
      await askHolderForItsWindow((service, body) => second.queue.request(service, body), nullLogger);
      assert.equal(first.queue.role, 'holder');
      assert.equal(second.queue.role, 'client');
      assert.deepEqual(await second.queue.request(WINDOW_SERVICE, ASK), { handingOver: false });
    });
  });
});
