import * as vscode from 'vscode';
import { formatBytes } from '../core/runtime/lowDiskMonitor';
import type { BackupInfo } from '../core/storage/backupManager';

/** A backup as a quick pick row. */
export interface BackupPickItem extends vscode.QuickPickItem {
  readonly backup: BackupInfo;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "just now", "5 minutes ago", "3 hours ago", "2 days ago". */
export function relativeTime(date: Date, now = Date.now()): string {
  const ago = Math.max(0, now - date.getTime());
  const say = (value: number, unit: string): string => `${value} ${unit}${value === 1 ? '' : 's'} ago`;
  if (ago < MINUTE) return 'just now';
  if (ago < HOUR) return say(Math.floor(ago / MINUTE), 'minute');
  if (ago < DAY) return say(Math.floor(ago / HOUR), 'hour');
  return say(Math.floor(ago / DAY), 'day');
}

/** Why an automatic backup was made, in words; undefined for a manual one. */
export function automaticReason(info: BackupInfo): string | undefined {
  switch (info.reason) {
    case 'beforeRestore':
      return 'automatic, before a restore';
    case 'beforeMigration':
      return 'automatic, before a migration';
    case 'scheduled':
      return 'automatic, scheduled';
    default:
      return undefined;
  }
}

/** What a backup holds, from its parts' summaries: "queue: 3 jobs · history: 12 entries · archive: 2 shards". */
export function describeParts(info: BackupInfo): string {
  const shards = info.parts.filter((part) => part.name.startsWith('history-archive.shards.')).length;
  const plain = info.parts.filter((part) => !part.name.startsWith('history-archive.'));
  const archiveIndex = info.parts.find((part) => part.name === 'history-archive.index.json');
  const items = plain.map((part) => `${part.name}: ${part.summary}`);
  if (archiveIndex) items.push(`archive: ${archiveIndex.summary} in ${shards} shard${shards === 1 ? '' : 's'}`);
  return items.join(' · ') || 'no store';
}

export function backupPickItem(info: BackupInfo, now = Date.now()): BackupPickItem {
  const when = relativeTime(info.createdAt, now);
  const absolute = info.createdAt.toLocaleString();
  const size = formatBytes(info.fileSize);
  if (info.status !== 'ok') {
    return {
      label: `$(warning) ${when}`,
      description: `${absolute} · ${size} · ${info.status === 'locked' ? 'locked (encrypted with another key)' : 'damaged'}`,
      detail: info.problem?.message ?? 'This backup cannot be read.',
      backup: info,
    };
  }
  const kind = info.imported ? 'Imported backup' : info.reason === 'manual' ? 'Manual backup' : 'Automatic backup';
  const why = info.reason === 'manual' ? undefined : automaticReason(info)?.replace('automatic, ', '');
  return {
    label: `${info.reason === 'manual' ? '$(archive)' : '$(history)'} ${kind}, ${when}`,
    description: `${absolute} · ${size}${why ? ` · ${why}` : ''}`,
    detail: describeParts(info),
    backup: info,
  };
}

/**
 * Asks for one backup, newest first. `usable` leaves damaged and locked ones out (a restore);
 * without it they are listed with their problem (to delete them). Undefined when none or dismissed.
 */
export async function pickBackup(
  backups: readonly BackupInfo[],
  options: { title: string; placeHolder: string; usable?: boolean },
): Promise<BackupInfo | undefined> {
  const shown = options.usable ? backups.filter((info) => info.status === 'ok') : backups;
  if (shown.length === 0) {
    void vscode.window.showInformationMessage(
      backups.length === 0
        ? 'Lifeline: there is no backup yet. Create one with “Lifeline: Create Backup”.'
        : 'Lifeline: no backup can be read.',
    );
    return undefined;
  }
  const now = Date.now();
  const picked = await vscode.window.showQuickPick(
    shown.map((info) => backupPickItem(info, now)),
    { title: options.title, placeHolder: options.placeHolder, matchOnDescription: true, matchOnDetail: true },
  );
  return picked?.backup;
}
