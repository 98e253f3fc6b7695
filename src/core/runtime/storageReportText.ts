import { formatBytes } from './lowDiskMonitor';
import type { SurvivalOutcome } from './jobSurvival';
import type { StorageReport, StoreHealthReport, QuarantinedFile } from './storageReport';

/** What the report adds about saving when the runtime is open (the VS Code layer's status). */
export interface SavingLine {
  readonly state: 'saved' | 'saving' | 'notSaving';
  readonly detail: string;
}

const time = (ms: number | undefined): string =>
  ms === undefined
    ? '–'
    : new Date(ms)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, ' UTC');
const ms = (value: number | undefined): string => (value === undefined ? '–' : `${value < 10 ? value.toFixed(2) : Math.round(value)} ms`);
/** Table cells: a pipe or a newline would break the row. */
const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

const OUTCOME: Record<SurvivalOutcome, string> = {
  keeps: 'keep running',
  stops: '**stop** (resumable)',
  depends: 'it depends',
  unknown: 'unknown',
};

/**
 * The Storage Health report as Markdown: readable as text (the document a person opens) and
 * rendered in a preview. Vscode-free, so a terminal command can print the same report.
 */
export function storageReportMarkdown(report: StorageReport, saving?: SavingLine): string {
  const lines: string[] = [];
  const out = (...more: string[]): void => void lines.push(...more);
  out('# Lifeline Storage Health', '');
  out(`Generated ${time(report.generatedAt)}${report.deep ? ' after a full verification' : ''}.`, '');
  out(`Storage folder: \`${report.storageDirectory}\``, '');
  if (saving) out(`**Saving:** ${saving.detail}`, '');
  out(`**Encryption:** ${report.encryption.detail}.`, '');
  out(`**Lease holder:** ${leaseLine(report)}`, '');

  out('## Stores', '');
  out('| Store | Integrity | Size on disk | Generation | Last sequence | Open took | Last save | Save p50 / p99 | Last compaction |');
  out('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const store of report.stores) out(storeRow(store));
  if (report.archive) {
    const archive = report.archive;
    const verified =
      archive.shardsVerified === undefined ? 'index checked' : `${archive.shardsVerified} of ${archive.shards} shards verified`;
    const status = archive.status === 'ok' ? `ok (${verified})` : archive.status === 'locked' ? 'encrypted, not checked' : '**damaged**';
    out(
      `| history archive | ${status} | ${formatBytes(archive.bytes)} | ${archive.shards} shards | ${archive.entries ?? '–'} entries | – | – | – | – |`,
    );
  }
  out('');
  const findings = [
    ...report.stores.flatMap((store) => [
      ...store.check.problems.map((p) => `**damaged**: ${store.name}: ${p}`),
      ...store.check.notes.map((n) => `note: ${store.name}: ${n}`),
    ]),
    ...(report.archive
      ? [...report.archive.problems.map((p) => `**damaged**: archive: ${p}`), ...report.archive.notes.map((n) => `note: archive: ${n}`)]
      : []),
  ];
  if (findings.length > 0) out(...findings.map((finding) => `- ${finding}`), '');
  if (!report.deep) {
    out('_Archive shards and backups are checked by their headers; run **Lifeline: Verify Storage** to read every byte._', '');
  }

  out('## Backups', '');
  const backups = report.backups;
  if (backups.error) out(`The backups could not be listed: ${backups.error}`, '');
  else if (backups.count === 0) out('No backup yet.', '');
  else {
    const newest = backups.newest;
    out(
      `${backups.count} backup(s), ${formatBytes(backups.totalBytes)} in all${backups.unusable > 0 ? `, **${backups.unusable} unusable** (damaged or locked)` : ''}${backups.verified ? ', every file verified' : ''}.`,
      '',
    );
    if (newest) {
      out(
        `Newest: ${time(newest.createdAt.getTime())}, ${newest.reason ?? 'unknown kind'}, ${formatBytes(newest.fileSize)}, ${newest.status}${newest.parts.length > 0 ? ` (${newest.parts.map((part) => `${part.name}: ${part.summary}`).join(', ')})` : ''}.`,
        '',
      );
    }
  }

  out('## Damage, repairs and quarantine', '');
  if (report.events.length === 0) out('Nothing was reported since this window opened the storage.', '');
  else {
    out('| When | Store | What happened | What was lost |', '| --- | --- | --- | --- |');
    for (const event of report.events) {
      out(`| ${time(event.at)} | ${event.store} | ${cell(event.summary)} | ${cell(event.lost ?? 'nothing')} |`);
    }
    out('');
  }
  const quarantined = [
    ...report.stores.flatMap((store) => store.quarantine.map((file) => ({ folder: store.folder, file }))),
    ...(report.archive?.quarantine.map((file) => ({ folder: 'history/archive', file })) ?? []),
  ];
  if (quarantined.length === 0) out('No file is in quarantine.', '');
  else {
    out('Files set aside in `quarantine/` folders (kept for a person to look at; nothing reads them):', '');
    out('| Folder | File | Was | Size | Set aside |', '| --- | --- | --- | --- | --- |');
    for (const { folder, file } of quarantined) out(quarantineRow(folder, file));
    out('');
  }

  if (report.survival) {
    out('## What running jobs survive on this machine', '');
    out('| Event | Running jobs | Why |', '| --- | --- | --- |');
    for (const answer of report.survival.answers) out(`| ${answer.label} | ${OUTCOME[answer.outcome]} | ${cell(answer.why)} |`);
    out('');
    if (report.survival.suggestSeparateScope) {
      out(
        'Supervisors can start in their own systemd user scope here, outside the service’s control group: set `lifeline.supervisors.scope` to `separate`.',
        '',
      );
    }
  }

  if (report.audit) {
    out('## Recent audit entries', '');
    if (report.audit.length === 0) out('None yet.', '');
    else {
      out('| When | Store | Action | Detail |', '| --- | --- | --- | --- |');
      for (const entry of report.audit.slice(-20)) {
        out(`| ${time(entry.at)} | ${entry.store} | ${entry.action} | ${cell(entry.detail ? JSON.stringify(entry.detail) : '')} |`);
      }
      out('');
    }
  }
  return lines.join('\n');
}

function leaseLine(report: StorageReport): string {
  const lease = report.lease;
  if (lease.state === 'none') return 'none (no window or process holds the queue now)';
  if (lease.state === 'unreadable') return 'unreadable (the next window takes it over)';
  const who = lease.thisProcess ? 'this window' : 'another window or process';
  const stale = lease.stale ? ', **stale** (its heartbeat stopped; the next window takes it over)' : '';
  return `${who}: pid ${lease.pid} on ${lease.hostname}, activation ${lease.activationId}, heartbeat ${time(lease.heartbeatAt)}${lease.state === 'releasing' ? ', releasing' : ''}${stale}`;
}

function storeRow(store: StoreHealthReport): string {
  const check = store.check;
  const status = check.status === 'ok' ? 'ok' : check.status === 'empty' ? '– never written' : `**damaged** (${check.problems.length})`;
  const live = store.live;
  const saved = live !== undefined && live.commits > 0;
  const compaction = live?.lastCompaction ? `${time(live.lastCompaction.at)} (${ms(live.lastCompaction.durationMs)})` : '–';
  return `| ${store.folder === store.name ? store.name : `${store.folder}/${store.name}`} | ${status} | ${formatBytes(check.bytes)} | ${check.generation ?? '–'} | ${check.acknowledgedSequence ?? '–'} | ${ms(live?.loadMs)} | ${saved ? ms(live.lastSaveMs) : '–'} | ${saved ? `${ms(live.saveP50Ms)} / ${ms(live.saveP99Ms)}` : '–'} | ${compaction} |`;
}

function quarantineRow(folder: string, file: QuarantinedFile): string {
  return `| ${folder} | \`${file.name}\` | ${file.original} | ${formatBytes(file.bytes)} | ${time(file.at)} |`;
}
