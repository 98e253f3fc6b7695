import * as assert from 'node:assert/strict';
import type { PanelTab, TabRecoveryInput } from '../../../src/core/panels/panelRecoveryPlan';
import { RecreationBudget, planTabRecovery, readyTimeoutMs } from '../../../src/core/panels/panelRecoveryPlan';

const GRACE = 2500;
const tab = (column: number, active: boolean): PanelTab => ({ key: `${column}:Lifeline Queue`, column, active });
const plan = (input: Partial<TabRecoveryInput> & { tabs: readonly PanelTab[] }) =>
  planTabRecovery({ live: undefined, orphanSince: new Map(), now: 10_000, graceMs: GRACE, ...input });

describe('which leftover panel tabs are replaced', () => {
  it('waits the grace for the serializer before replacing a visible tab no live panel backs', () => {
    const first = plan({ tabs: [tab(1, true)] });
    assert.equal(first.replace, undefined);
    assert.deepEqual(first.close, []);
    assert.equal(first.wakeAt, 10_000 + GRACE);
    const later = plan({ tabs: [tab(1, true)], orphanSince: first.orphanSince, now: 10_000 + GRACE });
    assert.equal(later.replace, '1:Lifeline Queue');
    assert.equal(later.wakeAt, undefined);
  });

  it('leaves a background tab alone, since VS Code restores it through the serializer only when shown', () => {
    const result = plan({ tabs: [tab(2, false)], now: 1_000_000 });
    assert.equal(result.replace, undefined);
    assert.deepEqual(result.close, []);
    assert.equal(result.wakeAt, undefined);
  });

  it('starts the grace again when a tab is hidden and shown', () => {
    const shown = plan({ tabs: [tab(1, true)] });
    const hidden = plan({ tabs: [tab(1, false)], orphanSince: shown.orphanSince, now: 11_000 });
    const again = plan({ tabs: [tab(1, true)], orphanSince: hidden.orphanSince, now: 13_000 });
    assert.equal(again.replace, undefined, 'the grace counts from being shown again');
    assert.equal(again.wakeAt, 13_000 + GRACE);
  });

  it('does nothing once the serializer restored the tab (the live panel is in it)', () => {
    const waiting = plan({ tabs: [tab(1, true)] });
    const restored = plan({ tabs: [tab(1, true)], live: { column: 1, visible: true }, orphanSince: waiting.orphanSince, now: 20_000 });
    assert.equal(restored.replace, undefined);
    assert.deepEqual(restored.close, []);
    assert.equal(restored.orphanSince.size, 0);
  });

  it('with a live panel, closes a leftover tab of it in another group after the grace, never one in its own group', () => {
    const tabs = [tab(1, true), tab(2, true)];
    const live = { column: 1, visible: true };
    const first = plan({ tabs, live });
    assert.deepEqual(first.close, []);
    assert.deepEqual(plan({ tabs, live, orphanSince: first.orphanSince, now: 10_000 + GRACE }).close, ['2:Lifeline Queue']);
    const sameGroup: PanelTab[] = [
      { key: 'a', column: 1, active: true },
      { key: 'b', column: 1, active: false },
    ];
    assert.deepEqual(plan({ tabs: sameGroup, live, now: 1_000_000 }).close, []);
  });

  it('touches nothing when it cannot tell which tab is the live panel', () => {
    const tabs: PanelTab[] = [{ key: 'a', column: 1, active: false }, { key: 'b', column: 1, active: false }, tab(2, true)];
    const result = plan({ tabs, live: { column: 1, visible: false }, orphanSince: new Map([['2:Lifeline Queue', 0]]), now: 1_000_000 });
    assert.deepEqual(result.close, []);
    assert.equal(result.replace, undefined);
  });

  it("takes no tab for an orphan while the live panel's own tab is not found (no column yet, or a stale one)", () => {
    for (const column of [undefined, 0, 3]) {
      const result = plan({
        tabs: [tab(1, true), tab(2, true)],
        live: { column, visible: true },
        orphanSince: new Map([
          ['1:Lifeline Queue', 0],
          ['2:Lifeline Queue', 0],
        ]),
        now: 1_000_000,
      });
      assert.deepEqual(result.close, [], `live column ${String(column)}`);
      assert.equal(result.wakeAt, undefined);
    }
  });

  it('replaces one tab and closes every other tab of the type', () => {
    const tabs = [tab(1, true), tab(2, false)];
    const result = plan({ tabs, orphanSince: new Map([['1:Lifeline Queue', 0]]) });
    assert.equal(result.replace, '1:Lifeline Queue');
    assert.deepEqual(result.close, ['2:Lifeline Queue']);
  });
});

describe('re-creating a panel whose page does not say it is ready', () => {
  it('gives each re-created page longer, up to a cap', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 9].map((attempt) => readyTimeoutMs(5000, attempt)),
      [5000, 10_000, 20_000, 40_000, 80_000, 80_000],
    );
  });

  it('stops after the budget of re-creations in a row and reports that once; a ready page starts a new count', () => {
    const budget = new RecreationBudget(3);
    assert.deepEqual([budget.failed(), budget.failed(), budget.failed(), budget.failed()], [true, true, true, false]);
    assert.equal(budget.attempts, 3);
    assert.equal(budget.shouldReportExhausted(), true);
    assert.equal(budget.failed(), false);
    assert.equal(budget.shouldReportExhausted(), false, 'the user is told once');
    budget.succeeded();
    assert.equal(budget.failed(), true);
    assert.equal(budget.attempts, 1);
  });
});
