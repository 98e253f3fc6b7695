import type { QueuePanelCommand, QueuePanelState } from '../../src/shared/queuePanelProtocol';
import { defaultQueuePanelState, isInitNotification } from '../../src/shared/queuePanelProtocol';
import './style.css';

interface VsCodeApi {
  postMessage(message: QueuePanelCommand): void;
  getState(): unknown;
  setState(state: QueuePanelState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();

/** The webview's own copy wins when it is valid: it is what the user last saw here. */
function restoredState(): QueuePanelState | undefined {
  const saved = vscode.getState() as Partial<QueuePanelState> | undefined;
  if (saved && saved.version === 1 && typeof saved.filter === 'string' && typeof saved.scrollTop === 'number') {
    return { version: 1, filter: saved.filter, scrollTop: saved.scrollTop, selectedJobId: saved.selectedJobId };
  }
  return undefined;
}

let state: QueuePanelState = restoredState() ?? defaultQueuePanelState;

function saveState(next: QueuePanelState): void {
  state = next;
  vscode.setState(state);
  vscode.postMessage({ type: 'stateChanged', state });
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function render(workspaceName: string, trusted: boolean): void {
  const app = document.getElementById('app');
  if (!app) return;
  const filter = element('input', {
    id: 'filter',
    type: 'search',
    placeholder: 'Filter jobs by name, command or tag',
    value: state.filter,
    spellcheck: false,
  });
  filter.setAttribute('aria-label', 'Filter jobs');
  filter.addEventListener('input', () => saveState({ ...state, filter: filter.value }));

  const list = element('div', { id: 'jobs', className: 'jobs', tabIndex: 0 });
  list.setAttribute('role', 'list');
  list.append(
    element(
      'p',
      { className: 'empty' },
      element('span', { className: 'codicon codicon-inbox' }),
      ' No jobs in the queue.',
    ),
  );
  let scrollTimer: number | undefined;
  list.addEventListener('scroll', () => {
    window.clearTimeout(scrollTimer);
    scrollTimer = window.setTimeout(() => saveState({ ...state, scrollTop: list.scrollTop }), 150);
  });

  const header = element(
    'header',
    {},
    element('h1', {}, element('span', { className: 'codicon codicon-pulse' }), ` Queue — ${workspaceName}`),
    element('span', { className: trusted ? 'badge' : 'badge warning', id: 'trust' }, trusted ? 'trusted' : 'restricted: nothing runs'),
  );
  const logButton = element('button', { id: 'show-log', type: 'button', title: 'Show the Lifeline log' }, element('span', { className: 'codicon codicon-output' }), ' Log');
  logButton.addEventListener('click', () => vscode.postMessage({ type: 'showLog' }));

  app.replaceChildren(header, element('div', { className: 'toolbar' }, filter, logButton), list);
  app.setAttribute('aria-busy', 'false');
  list.scrollTop = state.scrollTop;
}

window.addEventListener('message', (event: MessageEvent<unknown>) => {
  const message = event.data;
  if (!isInitNotification(message)) return;
  // The host's copy is used only when the webview has none of its own (a panel restored by the
  // host from Lifeline's store rather than from VS Code's saved webview state).
  if (!restoredState()) state = message.state;
  render(message.workspaceName, message.trusted);
  document.body.dataset.ready = 'true';
});

vscode.postMessage({ type: 'ready' });
