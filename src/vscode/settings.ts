import * as vscode from 'vscode';
import type { RecoveryPolicy } from '../core/runtime/recoveryPolicy';
import type { RuntimeOptions, SupervisorScope } from '../core/runtime/runtimeOptions';

/** `lifeline.jobs.whenVSCodeCloses`. */
export type WhenVSCodeCloses = 'finish' | 'stopAfterGrace';

type NumberSpec = { readonly type: 'integer' | 'number'; readonly minimum: number; readonly maximum?: number };
type EnumSpec = { readonly type: 'string'; readonly enum: readonly string[] };

/**
 * Every setting Lifeline reads, with the type and bounds its manifest entry declares. The defaults
 * are not here: they live in package.json only, and VS Code supplies them. An integration test
 * compares this table with `contributes.configuration` both ways, so the two cannot drift.
 */
export const SETTING_SPECS = {
  'queue.concurrency': { type: 'integer', minimum: 1, maximum: 256 },
  'recovery.policy': { type: 'string', enum: ['prompt', 'auto', 'off'] },
  'jobs.outputLimitMB': { type: 'number', minimum: 1, maximum: 1024 },
  'jobs.whenVSCodeCloses': { type: 'string', enum: ['finish', 'stopAfterGrace'] },
  'jobs.stopGraceSeconds': { type: 'number', minimum: 1, maximum: 86_400 },
  'jobs.killGraceSeconds': { type: 'number', minimum: 0, maximum: 3600 },
  'history.maxActiveEntries': { type: 'integer', minimum: 10, maximum: 100_000 },
  'history.archiveRetentionDays': { type: 'integer', minimum: 0 },
  'backup.intervalHours': { type: 'number', minimum: 0, maximum: 8760 },
  'backup.keep': { type: 'integer', minimum: 1, maximum: 1000 },
  'backup.maxAgeDays': { type: 'integer', minimum: 0 },
  'storage.minFreeMB': { type: 'integer', minimum: 0, maximum: 1_048_576 },
  'cleanup.intervalHours': { type: 'number', minimum: 0, maximum: 8760 },
  'cleanup.failedJobRetentionDays': { type: 'integer', minimum: 0, maximum: 3650 },
  'cleanup.finishedJobRetentionDays': { type: 'integer', minimum: 0, maximum: 3650 },
  'cleanup.quarantineRetentionDays': { type: 'integer', minimum: 0, maximum: 3650 },
  'supervisors.scope': { type: 'string', enum: ['shared', 'separate'] },
} as const satisfies Record<string, NumberSpec | EnumSpec>;

export type SettingKey = keyof typeof SETTING_SPECS;

/** What the reader needs of a `WorkspaceConfiguration` for the `lifeline` section. */
export type LifelineConfiguration = Pick<vscode.WorkspaceConfiguration, 'get' | 'inspect'>;

/**
 * Reads Lifeline's settings as the workspace runtime's options, in the units the core takes (the
 * one place settings and options meet). A value of the wrong type (hand-edited settings.json) falls back to
 * the manifest's default; a number outside its bounds is clamped to them, as the Settings editor
 * would have refused it.
 */
export function readSettings(configuration: LifelineConfiguration = vscode.workspace.getConfiguration('lifeline')): RuntimeOptions {
  const number = (key: SettingKey): number => readNumber(configuration, key);
  const text = <T extends string>(key: SettingKey): T => readEnum(configuration, key) as T;
  return {
    concurrency: number('queue.concurrency'),
    recoveryPolicy: text<RecoveryPolicy>('recovery.policy'),
    outputLimitBytes: number('jobs.outputLimitMB') * 1024 * 1024,
    stopWithoutHostAfterMs:
      text<WhenVSCodeCloses>('jobs.whenVSCodeCloses') === 'stopAfterGrace' ? number('jobs.stopGraceSeconds') * 1000 : undefined,
    killGraceMs: number('jobs.killGraceSeconds') * 1000,
    historyMaxActiveEntries: number('history.maxActiveEntries'),
    historyRetentionDays: number('history.archiveRetentionDays'),
    backupIntervalHours: number('backup.intervalHours'),
    backupKeep: number('backup.keep'),
    backupMaxAgeDays: number('backup.maxAgeDays'),
    storageMinFreeMB: number('storage.minFreeMB'),
    cleanupIntervalHours: number('cleanup.intervalHours'),
    failedJobRetentionDays: number('cleanup.failedJobRetentionDays'),
    finishedJobRetentionDays: number('cleanup.finishedJobRetentionDays'),
    quarantineRetentionDays: number('cleanup.quarantineRetentionDays'),
    supervisorScope: text<SupervisorScope>('supervisors.scope'),
  };
}

/** Calls `listener` when any of `keys` changes (in any scope of this window). */
export function onDidChangeSettings(keys: readonly SettingKey[], listener: () => void): vscode.Disposable {
  return vscode.workspace.onDidChangeConfiguration((event) => {
    if (keys.some((key) => event.affectsConfiguration(`lifeline.${key}`))) listener();
  });
}

function manifestDefault(configuration: LifelineConfiguration, key: SettingKey): unknown {
  return configuration.inspect(key)?.defaultValue;
}

function readNumber(configuration: LifelineConfiguration, key: SettingKey): number {
  const spec = SETTING_SPECS[key];
  if (spec.type === 'string') throw new TypeError(`lifeline.${key} is not a number setting`);
  const raw = configuration.get<unknown>(key);
  const value = typeof raw === 'number' && Number.isFinite(raw) ? raw : Number(manifestDefault(configuration, key));
  const whole = spec.type === 'integer' ? Math.floor(value) : value;
  const maximum = 'maximum' in spec ? spec.maximum : Number.POSITIVE_INFINITY;
  return Math.min(maximum, Math.max(spec.minimum, whole));
}

function readEnum(configuration: LifelineConfiguration, key: SettingKey): string {
  const spec = SETTING_SPECS[key];
  if (spec.type !== 'string') throw new TypeError(`lifeline.${key} is not a choice setting`);
  const raw = configuration.get<unknown>(key);
  return typeof raw === 'string' && (spec.enum as readonly string[]).includes(raw) ? raw : String(manifestDefault(configuration, key));
}
