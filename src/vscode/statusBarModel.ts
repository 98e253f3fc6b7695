import type { StorageHealth } from '../core/runtime/storageHealth';

/** What the status bar item is made from; nothing of VS Code, so the rules read in one place. */
export interface StatusBarInput {
  readonly running: number;
  readonly queued: number;
  readonly paused: boolean;
  readonly health: StorageHealth;
  /** Whether `saving` has lasted long enough to be worth showing (a commit takes a millisecond). */
  readonly slowSave: boolean;
  /** When the queue last reached the disk in this window; undefined in a client window or before the first write. */
  readonly lastSavedAt: number | undefined;
  readonly now: number;
}

export interface StatusBarModel {
  readonly visible: boolean;
  /** With codicons (`$(sync~spin)`). */
  readonly text: string;
  /** Markdown for the tooltip. */
  readonly tooltip: string;
  /** Read by screen readers instead of the codicons. */
  readonly accessibleLabel: string;
  readonly background: 'error' | 'warning' | undefined;
  /** `queue` opens the queue; `saving` offers Retry and the details. */
  readonly click: 'queue' | 'saving';
  /** When the text changes by itself next ("saved 5 s ago" becomes "saved 10 s ago"); undefined: only on a change. */
  readonly refreshAt: number | undefined;
}

/**
 * The item's text: running and queued counts, paused, and whether the queue is saving. Hidden
 * when nothing is queued or running and saving is fine: the item is there to say something.
 */
export function statusBarModel(input: StatusBarInput): StatusBarModel {
  const notSaving = input.health.state === 'notSaving';
  const visible = input.running > 0 || input.queued > 0 || notSaving;
  const parts: string[] = [];
  const spoken: string[] = [];
  if (input.running > 0) {
    parts.push(`$(sync~spin) ${input.running}`);
    spoken.push(`${input.running} running`);
  }
  if (input.queued > 0) {
    parts.push(`$(clock) ${input.queued}`);
    spoken.push(`${input.queued} queued`);
  }
  if (input.paused) {
    parts.push('$(circle-slash) paused');
    spoken.push('queue paused');
  }
  const saving = savingText(input);
  if (saving) {
    parts.push(`${saving.icon} ${saving.text}`);
    spoken.push(saving.text);
  }
  const tooltip = [
    '**Lifeline**',
    '',
    `${input.running} running, ${input.queued} queued${input.paused ? ' (the queue is paused: no new job starts)' : ''}`,
    '',
    savingDetail(input),
    '',
    notSaving ? 'Click to retry saving or see the details.' : 'Click to open the queue.',
  ].join('\n');
  return {
    visible,
    text: parts.join('  '),
    tooltip,
    accessibleLabel: `Lifeline: ${spoken.join(', ') || 'idle'}`,
    background: notSaving ? 'error' : undefined,
    click: notSaving ? 'saving' : 'queue',
    refreshAt: visible && saving?.refreshAt !== undefined ? saving.refreshAt : undefined,
  };
}

function savingText(input: StatusBarInput): { icon: string; text: string; refreshAt?: number } | undefined {
  const health = input.health;
  if (health.state === 'notSaving') return { icon: '$(error)', text: 'not saving' };
  if (health.state === 'saving' && input.slowSave) return { icon: '$(loading~spin)', text: 'saving' };
  if (input.lastSavedAt === undefined) return undefined;
  const { text, refreshAt } = savedAgo(input.lastSavedAt, input.now);
  return { icon: '$(check)', text, refreshAt };
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/**
 * "saved N s ago" in steps of 5 s under a minute, then minutes, then hours, and when it next
 * changes: the item is redrawn at most every 5 s, not every second.
 */
export function savedAgo(savedAt: number, now: number): { text: string; refreshAt: number } {
  const age = Math.max(0, now - savedAt);
  if (age < 5 * SECOND) return { text: 'saved just now', refreshAt: savedAt + 5 * SECOND };
  if (age < MINUTE) {
    const step = Math.floor(age / (5 * SECOND)) * 5;
    return { text: `saved ${step} s ago`, refreshAt: savedAt + (step + 5) * SECOND };
  }
  if (age < HOUR) {
    const minutes = Math.floor(age / MINUTE);
    return { text: `saved ${minutes} min ago`, refreshAt: savedAt + (minutes + 1) * MINUTE };
  }
  const hours = Math.floor(age / HOUR);
  return { text: `saved ${hours} h ago`, refreshAt: savedAt + (hours + 1) * HOUR };
}

function savingDetail(input: StatusBarInput): string {
  const health = input.health;
  if (health.state === 'notSaving') {
    return `$(error) **Not saving**: ${health.reason}, since ${new Date(health.since).toLocaleTimeString()}. Changes to the queue are refused until a save succeeds; running jobs go on.`;
  }
  if (health.state === 'saving') return '$(loading~spin) Saving the queue…';
  if (input.lastSavedAt === undefined) return 'The queue is saved by the window that holds it.';
  return `$(check) Every change is on disk; the last save was at ${new Date(input.lastSavedAt).toLocaleTimeString()}.`;
}
