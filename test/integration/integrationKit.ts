import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { LifelineApi, LifelineQueueApi } from '../../src/extension';
import { until as waitUntil } from '../kit/until';

/** Lifeline's API in this extension host (activating it if need be). */
export async function lifelineApi(): Promise<LifelineApi> {
  const extension = vscode.extensions.getExtension<LifelineApi>('lifeline.lifeline');
  assert.ok(extension);
  return extension.activate();
}

/** The queue, once open: the test workspace is a trusted folder, so it opens. */
export async function readyQueue(): Promise<LifelineQueueApi> {
  const ready = await (await lifelineApi()).whenQueueReady();
  assert.ok(ready, 'a trusted folder is open, so the queue opens');
  return ready;
}

/** Resolves once `done()` holds, checked at once and after each firing of `event` (test/kit/until.ts). */
export function until(event: vscode.Event<unknown>, done: () => boolean, what: string, timeoutMs = 45_000): Promise<void> {
  return waitUntil(event, done, what, timeoutMs);
}
