import type { DisplayState } from '../../src/shared/jobDisplay';
import { displayStateLabels, displayStates } from '../../src/shared/jobDisplay';
import type {
  JobAction,
  JobRow,
  QueuePanelCommand,
  QueuePanelState,
  QueueStatus,
  StorageNotice,
} from '../../src/shared/queuePanelProtocol';
import { InitNotification, JobsNotification, defaultQueuePanelState } from '../../src/shared/queuePanelProtocol';
import { element, icon, vsCodeApi } from '../common/dom';
import './style.css';

const vscode = vsCodeApi<QueuePanelCommand, QueuePanelState>();

/** The webview's own copy wins when it is valid: it is what the user last saw here. */
function restoredState(): QueuePanelState | undefined {
  const saved = vscode.getState() as Partial<QueuePanelState> | undefined;
  if (saved && saved.version === 1 && typeof saved.filter === 'string' && typeof saved.scrollTop === 'number') {
    const states = Array.isArray(saved.states)
      ? saved.states.filter((s): s is DisplayState => (displayStates as readonly string[]).includes(s))
      : [];
    return {
      version: 1,
      filter: saved.filter,
      scrollTop: saved.scrollTop,
      selectedJobId: typeof saved.selectedJobId === 'string' ? saved.selectedJobId : undefined,
      states,
    };
  }
  return undefined;
}

let state: QueuePanelState = restoredState() ?? defaultQueuePanelState;
let jobs: readonly JobRow[] = [];
let unavailable: string | undefined;
let paused = false;
let notices: readonly StorageNotice[] = [];
/** Unknown until the host's first list of jobs. */
let status: QueueStatus | undefined;
/** The saved scroll position is applied once, when the first list of jobs has been drawn. */
let scrollRestored = false;

function saveState(next: QueuePanelState): void {
  state = next;
  vscode.setState(state);
  vscode.postMessage({ type: 'stateChanged', state });
}

const STATE_ICONS: Record<DisplayState, string> = {
  queued: 'clock',
  delayed: 'watch',
  running: 'loading codicon-modifier-spin',
  succeeded: 'pass',
  failed: 'error',
  timedOut: 'watch',
  cancelled: 'circle-slash',
  interrupted: 'debug-disconnect',
};

/** The badge beside the title while the jobs shown are not the queue as it is. */
const STATUS_BADGES: Partial<Record<QueueStatus, string>> = { opening: 'opening the queue…', waiting: 'waiting for the queue’s holder…' };

const ACTIONS: Record<JobAction, { icon: string; title: string }> = {
  cancel: { icon: 'debug-stop', title: 'Cancel' },
  resume: { icon: 'debug-continue', title: 'Resume' },
  retry: { icon: 'refresh', title: 'Run again' },
  discard: { icon: 'trash', title: 'Discard' },
  showOutput: { icon: 'output', title: 'Show output' },
};

/** A chip filters by the state as shown: Failed leaves out a timed-out job, which has its own chip. */
function matches(job: JobRow, filter: string): boolean {
  if (state.states?.length && !state.states.includes(job.state)) return false;
  const needle = filter.trim().toLowerCase();
  if (!needle) return true;
  return [job.name, job.detail, displayStateLabels[job.state], ...job.tags].some((text) => text.toLowerCase().includes(needle));
}

function renderChips(): HTMLElement {
  const chips = element('div', { className: 'chips', id: 'states' });
  chips.setAttribute('role', 'group');
  chips.setAttribute('aria-label', 'Filter by state');
  for (const s of displayStates) {
    const chip = element(
      'button',
      { type: 'button', className: 'chip' },
      icon(STATE_ICONS[s].replace(' codicon-modifier-spin', '')),
      ` ${displayStateLabels[s]}`,
    );
    chip.dataset.state = s;
    chip.setAttribute('aria-pressed', String(state.states?.includes(s) ?? false));
    chip.addEventListener('click', () => {
      const current = state.states ?? [];
      const states = current.includes(s) ? current.filter((x) => x !== s) : [...current, s];
      saveState({ ...state, states });
      chip.setAttribute('aria-pressed', String(states.includes(s)));
      renderJobs();
    });
    chips.append(chip);
  }
  return chips;
}

function renderShell(workspaceName: string, trusted: boolean): void {
  const app = document.getElementById('app');
  if (!app) return;
  const filter = element('input', {
    id: 'filter',
    type: 'search',
    placeholder: 'Filter jobs by name, command, state or tag',
    value: state.filter,
    spellcheck: false,
  });
  filter.setAttribute('aria-label', 'Filter jobs');
  filter.addEventListener('input', () => {
    saveState({ ...state, filter: filter.value });
    renderJobs();
  });

  const list = element('div', { id: 'jobs', className: 'jobs', tabIndex: 0 });
  list.setAttribute('role', 'listbox');
  list.setAttribute('aria-label', 'Jobs');
  list.addEventListener('keydown', (event) => onListKey(event));
  let scrollTimer: number | undefined;
  list.addEventListener('scroll', () => {
    window.clearTimeout(scrollTimer);
    scrollTimer = window.setTimeout(() => saveState({ ...state, scrollTop: list.scrollTop }), 150);
  });

  const header = element(
    'header',
    {},
    element('h1', {}, icon('pulse'), ` Queue — ${workspaceName}`),
    element('span', { className: trusted ? 'badge' : 'badge warning', id: 'trust' }, trusted ? 'trusted' : 'restricted: nothing runs'),
    element('span', { className: 'badge warning', id: 'paused', hidden: true }, 'paused'),
    element('span', { className: 'badge warning', id: 'queue-status', hidden: true }),
  );
  const runButton = element(
    'button',
    { id: 'run-job', type: 'button', title: 'Queue a job', disabled: !trusted },
    icon('play'),
    ' Run Job',
  );
  runButton.addEventListener('click', () => vscode.postMessage({ type: 'runJob' }));
  const logButton = element('button', { id: 'show-log', type: 'button', title: 'Show the Lifeline log' }, icon('output'), ' Log');
  logButton.addEventListener('click', () => vscode.postMessage({ type: 'showLog' }));

  const banners = element('div', { id: 'notices', className: 'notices' });
  banners.setAttribute('role', 'alert');
  app.replaceChildren(header, banners, element('div', { className: 'toolbar' }, filter, runButton, logButton), renderChips(), list);
  renderNotices();
  app.setAttribute('aria-busy', 'false');
  renderJobs();
}

/** Banners above the jobs while the queue is not saving or the disk is low; the same words as the Queue view. */
function renderNotices(): void {
  const banners = document.getElementById('notices');
  if (!banners) return;
  banners.replaceChildren(
    ...notices.map((notice) => {
      const banner = element(
        'div',
        { className: `notice notice-${notice.kind}` },
        icon(notice.kind === 'notSaving' ? 'error' : 'warning'),
        element('span', { className: 'notice-text' }, element('strong', {}, notice.title), ` ${notice.detail}`),
      );
      banner.dataset.kind = notice.kind;
      if (notice.retry) {
        const retry = element('button', { type: 'button', className: 'notice-retry' }, icon('refresh'), ' Retry');
        retry.addEventListener('click', () => vscode.postMessage({ type: 'retrySaving' }));
        banner.append(retry);
      }
      return banner;
    }),
  );
  document.body.dataset.notices = notices.map((notice) => notice.kind).join(' ');
}

function renderJobs(): void {
  const list = document.getElementById('jobs');
  if (!list) return;
  const pausedBadge = document.getElementById('paused');
  if (pausedBadge) pausedBadge.hidden = !paused;
  const statusBadge = document.getElementById('queue-status');
  if (statusBadge) {
    const text = status && STATUS_BADGES[status];
    statusBadge.hidden = !text;
    statusBadge.textContent = text ?? '';
  }
  const visible = jobs.filter((job) => matches(job, state.filter));
  if (visible.length === 0) {
    const text =
      unavailable ??
      (jobs.length === 0
        ? 'No jobs in the queue.'
        : state.filter.trim()
          ? `No job matches “${state.filter}”${state.states?.length ? ' in the chosen states' : ''}.`
          : 'No job is in the chosen states.');
    list.replaceChildren(element('p', { className: 'empty' }, icon(unavailable ? 'info' : 'inbox'), ` ${text}`));
    return;
  }
  list.replaceChildren(...visible.map((job) => renderRow(job)));
  if (!scrollRestored && jobs.length > 0) {
    scrollRestored = true;
    list.scrollTop = state.scrollTop;
  }
}

function renderRow(job: JobRow): HTMLElement {
  const selected = job.id === state.selectedJobId;
  const row = element('div', { className: `job state-${job.state}${selected ? ' selected' : ''}`, id: `job-${job.id}` });
  row.dataset.jobId = job.id;
  row.setAttribute('role', 'option');
  row.setAttribute('aria-selected', String(selected));
  row.setAttribute('aria-label', `${job.name}, ${job.description}`);
  const buttons = element('span', { className: 'actions' });
  for (const action of job.actions) {
    const { icon: name, title } = ACTIONS[action];
    const button = element('button', { className: 'icon-button', type: 'button', title: `${title} “${job.name}”` }, icon(name));
    button.dataset.action = action;
    button.setAttribute('aria-label', `${title} ${job.name}`);
    button.addEventListener('click', (event) => {
      event.stopPropagation();
      vscode.postMessage({ type: 'jobAction', action, jobId: job.id });
    });
    buttons.append(button);
  }
  const progress = element('span', { className: 'progress' });
  if (job.progress !== undefined) progress.style.width = `${Math.round(job.progress * 100)}%`;
  row.append(
    element('span', { className: 'state-icon' }, icon(STATE_ICONS[job.state])),
    element('span', { className: 'name' }, job.name),
    element('span', { className: 'description' }, job.description),
    element('span', { className: 'detail' }, job.detail),
    buttons,
    progress,
  );
  row.addEventListener('click', () => select(job.id));
  return row;
}

function select(jobId: string | undefined): void {
  saveState({ ...state, selectedJobId: jobId });
  renderJobs();
  if (jobId) document.getElementById(`job-${jobId}`)?.scrollIntoView({ block: 'nearest' });
}

function onListKey(event: KeyboardEvent): void {
  const visible = jobs.filter((job) => matches(job, state.filter));
  const index = visible.findIndex((job) => job.id === state.selectedJobId);
  if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
    event.preventDefault();
    const next = visible[Math.min(visible.length - 1, Math.max(0, index + (event.key === 'ArrowDown' ? 1 : -1)))];
    if (next) select(next.id);
  } else if (event.key === 'Enter' && index >= 0) {
    const job = visible[index];
    if (job?.actions.includes('showOutput')) vscode.postMessage({ type: 'jobAction', action: 'showOutput', jobId: job.id });
  }
}

function onJobs(message: JobsNotification): void {
  jobs = message.jobs;
  paused = message.paused;
  unavailable = message.unavailable;
  status = message.status;
  notices = message.notices;
  document.body.dataset.queueStatus = status;
  renderNotices();
  renderJobs();
  document.body.dataset.jobs = String(jobs.length);
}

window.addEventListener('message', (event: MessageEvent<unknown>) => {
  const message = event.data;
  if (JobsNotification.is(message)) return onJobs(message);
  if (!InitNotification.is(message)) return;
  // The host's copy is used only when the webview has none of its own (a panel restored by the
  // host from Lifeline's store rather than from VS Code's saved webview state).
  if (!restoredState()) state = message.state;
  renderShell(message.workspaceName, message.trusted);
  document.body.dataset.ready = 'true';
});

vscode.postMessage({ type: 'ready' });
