import type {
  HistoryPanelCommand,
  HistoryPanelHostMessage,
  HistoryPanelState,
  HistoryQuery,
  HistoryRow,
  HistoryState,
  HistorySummary,
} from '../../src/shared/historyPanelProtocol';
import {
  HistoryChangedNotification,
  HistoryInitNotification,
  HistoryStatusNotification,
  PageReply,
  QueryErrorReply,
  defaultHistoryPanelState,
  historyStates,
} from '../../src/shared/historyPanelProtocol';
import { anyOf } from '../../src/shared/panelProtocol';
import { displayStateLabels, displayStates, formatDuration } from '../../src/shared/jobDisplay';
import { element, icon, vsCodeApi } from '../common/dom';
import './style.css';

const vscode = vsCodeApi<HistoryPanelCommand, HistoryPanelState>();

function restoredState(): HistoryPanelState | undefined {
  const saved = vscode.getState() as Partial<HistoryPanelState> | undefined;
  if (!saved || saved.version !== 1 || typeof saved.search !== 'string' || typeof saved.scrollTop !== 'number') return undefined;
  return {
    version: 1,
    search: saved.search,
    states: Array.isArray(saved.states)
      ? saved.states.filter((s): s is HistoryState => (historyStates as readonly string[]).includes(s))
      : [],
    source: saved.source === 'archive' ? 'archive' : 'active',
    scrollTop: saved.scrollTop,
    selectedJobId: typeof saved.selectedJobId === 'string' ? saved.selectedJobId : undefined,
    pages: typeof saved.pages === 'number' && saved.pages >= 1 ? Math.min(200, Math.floor(saved.pages)) : 1,
  };
}

let state: HistoryPanelState = restoredState() ?? defaultHistoryPanelState;
let rows: HistoryRow[] = [];
let nextCursor: string | undefined;
let requestId = 0;
/** Pages still to load before the saved scroll position can be applied (a restore after reload). */
let pagesToRestore = 0;
let loading = false;
let unavailable: string | undefined = 'Opening the history…';
let summary: HistorySummary | undefined;
let lostShards = 0;
let errorText: string | undefined;

function saveState(next: HistoryPanelState): void {
  state = next;
  vscode.setState(state);
  vscode.postMessage({ type: 'stateChanged', state });
}

/** The same icons and words as the Queue view and dashboard; the Failed chip leaves timed-out runs to the Timed out chip. */
const STATE_ICONS: Record<HistoryState, string> = {
  succeeded: 'pass',
  failed: 'error',
  cancelled: 'circle-slash',
  timedOut: 'watch',
  interrupted: 'debug-disconnect',
};
const STATE_LABELS: Record<HistoryState, string> = displayStateLabels;

function duration(ms: number | undefined): string {
  return ms === undefined ? '' : formatDuration(ms);
}

function currentQuery(): HistoryQuery {
  return { search: state.search, states: state.states, source: state.source };
}

/** Starts over from the first page; with `restorePages`, loads as many pages as were shown before. */
function reload(restorePages = 1): void {
  rows = [];
  nextCursor = undefined;
  errorText = undefined;
  lostShards = 0;
  pagesToRestore = restorePages - 1;
  requestPage(undefined);
  renderList();
}

function requestPage(cursor: string | undefined): void {
  if (unavailable) return;
  loading = true;
  requestId++;
  vscode.postMessage({ type: 'query', requestId, query: currentQuery(), ...(cursor ? { cursor } : {}) });
}

let searchTimer: number | undefined;

function renderShell(workspaceName: string): void {
  const app = document.getElementById('app');
  if (!app) return;
  const search = element('input', {
    id: 'search',
    type: 'search',
    placeholder: 'Search name and command',
    value: state.search,
    spellcheck: false,
  });
  search.setAttribute('aria-label', 'Search the history');
  search.addEventListener('input', () => {
    window.clearTimeout(searchTimer);
    searchTimer = window.setTimeout(() => {
      saveState({ ...state, search: search.value, pages: 1, scrollTop: 0 });
      reload();
    }, 200);
  });
  const chips = element('div', { className: 'chips', id: 'states' });
  chips.setAttribute('role', 'group');
  chips.setAttribute('aria-label', 'Filter by state');
  // In the order of the dashboard's chips, Timed out beside Failed.
  for (const s of displayStates.filter((d): d is HistoryState => (historyStates as readonly string[]).includes(d))) {
    const chip = element('button', { type: 'button', className: 'chip' }, icon(STATE_ICONS[s]), ` ${STATE_LABELS[s]}`);
    chip.dataset.state = s;
    chip.setAttribute('aria-pressed', String(state.states.includes(s)));
    chip.addEventListener('click', () => {
      const states = state.states.includes(s) ? state.states.filter((x) => x !== s) : [...state.states, s];
      saveState({ ...state, states, pages: 1, scrollTop: 0 });
      chip.setAttribute('aria-pressed', String(states.includes(s)));
      reload();
    });
    chips.append(chip);
  }
  const source = element('div', { className: 'segmented', id: 'source' });
  source.setAttribute('role', 'radiogroup');
  for (const [value, label] of [
    ['active', 'Recent'],
    ['archive', 'Archive'],
  ] as const) {
    const button = element('button', { type: 'button' }, label);
    button.dataset.source = value;
    button.setAttribute('role', 'radio');
    button.setAttribute('aria-checked', String(state.source === value));
    button.addEventListener('click', () => {
      if (state.source === value) return;
      saveState({ ...state, source: value, pages: 1, scrollTop: 0, selectedJobId: undefined });
      for (const b of source.querySelectorAll('button')) b.setAttribute('aria-checked', String(b.dataset.source === value));
      reload();
    });
    source.append(button);
  }
  const exportButton = element(
    'button',
    { type: 'button', id: 'export', title: 'Export the history to CSV or JSON' },
    icon('export'),
    ' Export',
  );
  exportButton.addEventListener('click', () => vscode.postMessage({ type: 'export' }));
  const archiveButton = element(
    'button',
    { type: 'button', id: 'archive-now', title: 'Move entries past the active limit into the archive now' },
    icon('archive'),
    ' Archive now',
  );
  archiveButton.addEventListener('click', () => vscode.postMessage({ type: 'archiveNow' }));

  const list = element('div', { id: 'entries', className: 'entries', tabIndex: 0 });
  list.setAttribute('role', 'listbox');
  list.setAttribute('aria-label', 'Finished jobs');
  list.addEventListener('keydown', onListKey);
  let scrollTimer: number | undefined;
  list.addEventListener('scroll', () => {
    window.clearTimeout(scrollTimer);
    scrollTimer = window.setTimeout(() => saveState({ ...state, scrollTop: list.scrollTop }), 150);
  });

  app.replaceChildren(
    element(
      'header',
      {},
      element('h1', {}, icon('history'), ` History — ${workspaceName}`),
      element('span', { id: 'summary', className: 'summary' }),
    ),
    element('div', { className: 'toolbar' }, search, source, exportButton, archiveButton),
    chips,
    list,
    element('section', { id: 'details', className: 'details' }),
  );
  app.setAttribute('aria-busy', 'false');
  renderSummary();
  renderList();
}

function renderSummary(): void {
  const node = document.getElementById('summary');
  if (!node) return;
  node.textContent = summary
    ? `Last ${summary.days} days: ${summary.count} runs, ${Math.round(summary.successRate * 100)}% succeeded` +
      (summary.meanDurationMs !== undefined ? `, mean ${duration(summary.meanDurationMs)}, p95 ${duration(summary.p95DurationMs)}` : '') +
      ` · ${summary.activeEntries} recent, ${summary.archiveShards} archive shard${summary.archiveShards === 1 ? '' : 's'}`
    : '';
}

function renderList(): void {
  const list = document.getElementById('entries');
  if (!list) return;
  const children: HTMLElement[] = rows.map(renderRow);
  if (rows.length === 0) {
    const text =
      unavailable ??
      errorText ??
      (loading
        ? 'Loading…'
        : state.search || state.states.length
          ? 'No finished job matches.'
          : state.source === 'archive'
            ? 'The archive is empty.'
            : 'No job has finished yet.');
    children.push(element('p', { className: 'empty' }, icon(unavailable ? 'info' : 'inbox'), ` ${text}`));
  } else if (errorText) {
    children.push(element('p', { className: 'empty error' }, icon('warning'), ` ${errorText}`));
  }
  if (lostShards > 0) {
    children.push(
      element(
        'p',
        { className: 'empty error' },
        icon('warning'),
        ` ${lostShards} damaged archive shard(s) were set aside; their entries are missing.`,
      ),
    );
  }
  if (nextCursor && !unavailable) {
    const more = element(
      'button',
      { type: 'button', id: 'load-more', className: 'load-more', disabled: loading },
      loading ? 'Loading…' : 'Load more',
    );
    more.addEventListener('click', () => {
      saveState({ ...state, pages: state.pages + 1 });
      requestPage(nextCursor);
      more.disabled = true;
    });
    children.push(more);
  }
  list.replaceChildren(...children);
  renderDetails();
}

function renderRow(row: HistoryRow): HTMLElement {
  const selected = row.jobId === state.selectedJobId;
  const node = element('div', { className: `entry state-${row.state}${selected ? ' selected' : ''}`, id: `entry-${row.jobId}` });
  node.dataset.jobId = row.jobId;
  node.setAttribute('role', 'option');
  node.setAttribute('aria-selected', String(selected));
  node.setAttribute('aria-label', `${row.name}, ${STATE_LABELS[row.state].toLowerCase()}`);
  const finished = new Date(row.finishedAt).toLocaleString();
  node.append(
    element('span', { className: 'state-icon', title: STATE_LABELS[row.state] }, icon(STATE_ICONS[row.state])),
    element('span', { className: 'name' }, row.name),
    element('span', { className: 'when', title: finished }, finished),
    element('span', { className: 'duration' }, duration(row.durationMs)),
    element('span', { className: 'exit' }, row.exitCode !== undefined ? `exit ${row.exitCode}` : ''),
  );
  node.addEventListener('click', () => select(row.jobId));
  return node;
}

function select(jobId: string): void {
  saveState({ ...state, selectedJobId: jobId });
  for (const node of document.querySelectorAll<HTMLElement>('.entry')) {
    const on = node.dataset.jobId === jobId;
    node.classList.toggle('selected', on);
    node.setAttribute('aria-selected', String(on));
  }
  document.getElementById(`entry-${jobId}`)?.scrollIntoView({ block: 'nearest' });
  renderDetails();
}

function renderDetails(): void {
  const pane = document.getElementById('details');
  if (!pane) return;
  const row = rows.find((r) => r.jobId === state.selectedJobId);
  if (!row) {
    pane.replaceChildren();
    pane.hidden = true;
    return;
  }
  pane.hidden = false;
  const facts = element('dl', {});
  const fact = (term: string, value: string): void => {
    if (value) facts.append(element('dt', {}, term), element('dd', {}, value));
  };
  fact('State', STATE_LABELS[row.state]);
  fact('Finished', new Date(row.finishedAt).toLocaleString());
  fact('Duration', duration(row.durationMs));
  fact('Attempts', String(row.attempts));
  fact('Error', row.error ?? '');
  fact('Tags', row.tags.join(', '));
  const children: (Node | string)[] = [element('h2', {}, row.name), element('pre', { className: 'command' }, row.command), facts];
  if (row.outputTail) children.push(element('h3', {}, 'End of output'), element('pre', { className: 'output' }, row.outputTail));
  if (row.shard) {
    const restore = element('button', { type: 'button', id: 'restore' }, icon('history'), ' Restore to recent history');
    const shard = row.shard;
    restore.addEventListener('click', () => vscode.postMessage({ type: 'restore', shard, jobId: row.jobId }));
    children.push(restore);
  }
  pane.replaceChildren(...children);
}

function onListKey(event: KeyboardEvent): void {
  if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
  event.preventDefault();
  const index = rows.findIndex((r) => r.jobId === state.selectedJobId);
  const next = rows[Math.min(rows.length - 1, Math.max(0, index + (event.key === 'ArrowDown' ? 1 : -1)))];
  if (next) select(next.jobId);
}

function onMessage(message: HistoryPanelHostMessage): void {
  switch (message.type) {
    case 'init':
      if (!restoredState()) state = message.state;
      renderShell(message.workspaceName);
      document.body.dataset.ready = 'true';
      return;
    case 'status': {
      const wasUnavailable = unavailable;
      unavailable = message.unavailable;
      summary = message.summary;
      renderSummary();
      if (!unavailable && (wasUnavailable || rows.length === 0)) reload(state.pages);
      else renderList();
      return;
    }
    case 'page': {
      if (message.requestId !== requestId) return; // an answer to a query the user has since changed
      loading = false;
      rows = [...rows, ...message.rows];
      nextCursor = message.nextCursor;
      lostShards += message.lost;
      renderList();
      if (pagesToRestore > 0 && nextCursor) {
        pagesToRestore--;
        requestPage(nextCursor);
      } else if (pagesToRestore >= 0) {
        pagesToRestore = -1;
        const list = document.getElementById('entries');
        if (list) list.scrollTop = state.scrollTop;
        document.body.dataset.loaded = 'true';
      }
      return;
    }
    case 'error':
      if (message.requestId !== undefined && message.requestId !== requestId) return;
      loading = false;
      errorText = message.message;
      renderList();
      return;
    case 'changed':
      // Something was recorded or restored: show it, keeping as many pages as are loaded.
      reload(Math.max(1, state.pages));
      return;
  }
}

const isHostMessage = anyOf<HistoryPanelHostMessage>(
  HistoryInitNotification,
  HistoryStatusNotification,
  HistoryChangedNotification,
  PageReply,
  QueryErrorReply,
);

window.addEventListener('message', (event: MessageEvent<unknown>) => {
  if (isHostMessage(event.data)) onMessage(event.data);
});

vscode.postMessage({ type: 'ready' });
