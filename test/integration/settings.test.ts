import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { DEFAULT_RUNTIME_OPTIONS } from '../../src/core/runtime/runtimeOptions';
import type { LifelineConfiguration } from '../../src/vscode/settings';
import { readSettings, SETTING_SPECS } from '../../src/vscode/settings';

interface ManifestSetting {
  type: string;
  default: unknown;
  minimum?: number;
  maximum?: number;
  enum?: string[];
}

function manifestSettings(): Map<string, ManifestSetting> {
  const manifest = vscode.extensions.getExtension('lifeline.lifeline')?.packageJSON as {
    contributes: { configuration: { properties: Record<string, ManifestSetting> } | { properties: Record<string, ManifestSetting> }[] };
  };
  const sections = [manifest.contributes.configuration].flat();
  return new Map(
    sections.flatMap((section) => Object.entries(section.properties)).map(([key, value]) => [key.replace(/^lifeline\./, ''), value]),
  );
}

/** A configuration with the manifest's defaults and the given user values, as VS Code reports it. */
function configurationWith(values: Record<string, unknown>): LifelineConfiguration {
  const manifest = manifestSettings();
  return {
    get: <T>(key: string, fallback?: T) => (key in values ? values[key] : (manifest.get(key)?.default ?? fallback)) as T,
    inspect: <T>(key: string) => ({ key: `lifeline.${key}`, defaultValue: manifest.get(key)?.default as T }),
  } as LifelineConfiguration;
}

describe('settings: one typed reader over contributes.configuration', () => {
  it('reads exactly the settings the manifest contributes, with the same types and bounds', () => {
    const manifest = manifestSettings();
    assert.deepEqual(
      [...manifest.keys()].sort(),
      Object.keys(SETTING_SPECS).sort(),
      'every contributed setting has a reader entry and no other',
    );
    for (const [key, spec] of Object.entries(SETTING_SPECS)) {
      const entry = manifest.get(key);
      assert.ok(entry, key);
      assert.equal(entry.type, spec.type, `${key}: type`);
      if (spec.type === 'string') {
        assert.deepEqual(entry.enum, [...spec.enum], `${key}: choices`);
        assert.ok(spec.enum.includes(entry.default as never), `${key}: the default is one of the choices`);
      } else {
        assert.equal(entry.minimum, spec.minimum, `${key}: minimum`);
        assert.equal(entry.maximum, 'maximum' in spec ? spec.maximum : undefined, `${key}: maximum`);
        assert.equal(typeof entry.default, 'number', `${key}: a numeric default`);
      }
    }
  });

  it('takes its defaults from the manifest alone, through VS Code', () => {
    const manifest = manifestSettings();
    const fromVSCode = readSettings();
    const fromManifest = readSettings(configurationWith({}));
    // The test workspace sets none of these, so what VS Code supplies is the manifest's default.
    assert.deepEqual(fromVSCode, fromManifest);
    assert.equal(fromManifest.concurrency, manifest.get('queue.concurrency')?.default);
    assert.equal(fromManifest.killGraceMs, Number(manifest.get('jobs.killGraceSeconds')?.default) * 1000);
    assert.equal(fromManifest.outputLimitBytes, Number(manifest.get('jobs.outputLimitMB')?.default) * 1024 * 1024);
    assert.equal(fromManifest.stopWithoutHostAfterMs, undefined, 'jobs finish on their own by default');
  });

  it('gives the workspace runtime the same defaults as the core has for a runtime opened outside VS Code', () => {
    // A terminal command or an agent server opens the runtime with the core's defaults: they must be the manifest's.
    assert.deepEqual(readSettings(configurationWith({})), DEFAULT_RUNTIME_OPTIONS);
  });

  it('clamps numbers to their bounds and falls back to the default for a value of the wrong type', () => {
    const settings = readSettings(
      configurationWith({
        'queue.concurrency': 1000.7,
        'jobs.killGraceSeconds': -5,
        'history.maxActiveEntries': 'many',
        'recovery.policy': 'sometimes',
        'jobs.whenVSCodeCloses': 'stopAfterGrace',
        'jobs.stopGraceSeconds': 2.5,
      }),
    );
    const defaults = readSettings(configurationWith({}));
    assert.equal(settings.concurrency, 256);
    assert.equal(settings.killGraceMs, 0);
    assert.equal(settings.historyMaxActiveEntries, defaults.historyMaxActiveEntries);
    assert.equal(settings.recoveryPolicy, defaults.recoveryPolicy);
    assert.equal(settings.stopWithoutHostAfterMs, 2500);
  });
});
