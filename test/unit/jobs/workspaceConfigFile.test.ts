import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findJobDefinition, parseWorkspaceConfig } from '../../../src/core/jobs/workspaceConfigFile';
import { repoRoot } from '../../host/paths';

describe('jobs: .vscode/lifeline.json', () => {
  it('reads the sample workspace file', () => {
    const result = parseWorkspaceConfig(readFileSync(join(repoRoot, 'samples', 'demo-workspace', '.vscode', 'lifeline.json'), 'utf8'));
    assert.ok(result.ok, result.ok ? '' : result.message);
    assert.deepEqual(
      result.config.jobs.map((job) => job.name),
      ['Count to ten', 'Render pipeline'],
    );
    assert.ok(findJobDefinition(result.config, 'Render pipeline'));
    assert.equal(findJobDefinition(result.config, 'nope'), undefined);
  });

  it('names the line of a syntax error', () => {
    const result = parseWorkspaceConfig('{\n  "version": 1,\n  "jobs": [\n    { "name": "a", "command": "true" },,\n  ]\n}');
    assert.equal(result.ok, false);
    assert.ok(!result.ok);
    assert.equal(result.line, 4);
    assert.match(result.message, /^\.vscode\/lifeline\.json line 4 is not valid JSON: value expected\.$/);
  });

  it('accepts comments and trailing commas, as VS Code does in .vscode/*.json', () => {
    const result = parseWorkspaceConfig('// jobs of this repo\n{ "version": 1, /* one */ "jobs": [{ "name": "a", "command": "true", },], }');
    assert.ok(result.ok, result.ok ? '' : result.message);
    assert.equal(result.config.jobs[0]?.name, 'a');
  });

  it('names every invalid field and its problem', () => {
    const result = parseWorkspaceConfig(JSON.stringify({ version: 2, jobs: [{ name: 'a', command: '' }, { name: 'b', stages: [] }] }));
    assert.ok(!result.ok);
    assert.match(result.message, /version/);
    assert.match(result.message, /a command cannot be empty|at least one stage/);
  });

  it('refuses two jobs with one name and unknown keys', () => {
    const twice = parseWorkspaceConfig(JSON.stringify({ version: 1, jobs: [{ name: 'a', command: 'x' }, { name: 'a', command: 'y' }] }));
    assert.ok(!twice.ok);
    assert.match(twice.message, /two jobs share one name/);
    const unknown = parseWorkspaceConfig(JSON.stringify({ version: 1, jobs: [{ name: 'a', command: 'x', shell: 'zsh' }] }));
    assert.ok(!unknown.ok);
    assert.match(unknown.message, /shell/);
  });
});
