import * as assert from 'node:assert/strict';
import { displayState, displayStateLabels, displayStates, formatDuration } from '../../../src/shared/jobDisplay';
import { historyStates } from '../../../src/shared/historyPanelProtocol';
import { JOB_STATES } from '../../../src/core/queue/jobModel';

describe('shared: how states and durations read to people', () => {
  it('formats durations as people say them, two units at most, no zero unit', () => {
    const cases: [number, string][] = [
      [0, '0 ms'],
      [12, '12 ms'],
      [999.4, '999 ms'],
      [999.6, '1 s'],
      [2000, '2 s'],
      [4_400, '4 s'],
      [59_400, '59 s'],
      [59_600, '1 min'],
      [60_000, '1 min'],
      [90_000, '1 min 30 s'],
      [125_000, '2 min 5 s'],
      [240_000, '4 min'],
      [3_600_000, '1 h'],
      [3_600_000 + 120_000, '1 h 2 min'],
      [80 * 60_000, '1 h 20 min'],
      [80 * 60_000 + 59_000, '1 h 20 min'],
      [24 * 3_600_000, '1 d'],
      [51 * 3_600_000 + 30 * 60_000, '2 d 3 h'],
    ];
    assert.deepEqual(
      cases.map(([ms]) => formatDuration(ms)),
      cases.map(([, text]) => text),
    );
  });

  it('formats nonsense as nothing rather than as NaN or a negative time', () => {
    assert.deepEqual([formatDuration(-5), formatDuration(Number.NaN), formatDuration(Number.POSITIVE_INFINITY)], ['0 ms', '0 ms', '0 ms']);
  });

  it('shows a failed job stopped by a timeout as timed out, and every other job as stored', () => {
    assert.equal(displayState({ state: 'failed', result: { timedOut: true } }), 'timedOut');
    assert.equal(displayState({ state: 'failed', result: { timedOut: false } }), 'failed');
    assert.equal(displayState({ state: 'failed', result: {} }), 'failed');
    assert.equal(displayState({ state: 'failed' }), 'failed');
    // Only a final failure is a timeout; a retry waiting after one is delayed.
    assert.equal(displayState({ state: 'delayed', result: { timedOut: true } }), 'delayed');
    for (const state of JOB_STATES) if (state !== 'failed') assert.equal(displayState({ state, result: { timedOut: true } }), state);
  });

  it('names every stored state and every history state with one label', () => {
    for (const state of [...JOB_STATES, ...historyStates]) {
      assert.ok((displayStates as readonly string[]).includes(state), `${state} is a display state`);
    }
    assert.equal(displayStateLabels.timedOut, 'Timed out');
    assert.equal(new Set(Object.values(displayStateLabels)).size, displayStates.length, 'no two states read the same');
  });
});
