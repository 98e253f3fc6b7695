import type { RuntimeOptions } from '../core/runtime/runtimeOptions';
import type { LifelineSettings } from './settings';

/** Lifeline's settings as the workspace runtime's options (the one place the two meet). */
export function runtimeOptionsOf(settings: LifelineSettings): RuntimeOptions {
  return {
    concurrency: settings.concurrency,
    recoveryPolicy: settings.recoveryPolicy,
    outputLimitBytes: settings.outputLimitBytes,
    stopWithoutHostAfterMs: settings.stopWithoutHostAfterMs,
    killGraceMs: settings.killGraceMs,
    historyMaxActiveEntries: settings.historyMaxActiveEntries,
    historyRetentionDays: settings.historyRetentionDays,
  };
}
