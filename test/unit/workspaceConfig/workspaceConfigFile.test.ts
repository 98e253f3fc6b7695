import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findJobDefinition, parseWorkspaceConfig } from '../../../src/core/workspaceConfig/workspaceConfigFile';
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
    assert.equal(result.message, '.vscode/lifeline.json: not valid JSON: value expected (line 4, column 40).');
  });

  it('places a syntax error at its offset, line and column', () => {
    const text = '{\n  "version": 1\n  "jobs": []\n}';
    const result = parseWorkspaceConfig(text);
    assert.ok(!result.ok);
    const [problem] = result.problems;
    assert.ok(problem);
    assert.equal(problem.path, '');
    assert.match(problem.message, /^not valid JSON: comma expected$/);
    assert.deepEqual([problem.line, problem.column], [3, 3]);
    assert.equal(text.slice(problem.offset, problem.offset + problem.length), '"jobs"');
  });

  it('names a wrong-typed field deep in a pipeline stage by its path, at its line and column, once', () => {
    const text = [
      '{',
      '  "version": 1,',
      '  "jobs": [',
      '    { "name": "Test", "command": "npm test" },',
      '    {',
      '      "name": "Render",',
      '      "stages": [',
      '        { "name": "fetch", "command": "./fetch.sh" },',
      '        { "name": "render", "command": "./render.sh", "timeoutSeconds": "3600" }',
      '      ]',
      '    }',
      '  ]',
      '}',
    ].join('\n');
    const result = parseWorkspaceConfig(text);
    assert.ok(!result.ok);
    assert.equal(result.problems.length, 1, JSON.stringify(result.problems));
    const [problem] = result.problems;
    assert.ok(problem);
    assert.equal(problem.path, 'jobs[1].stages[1].timeoutSeconds');
    assert.equal(problem.message, 'expected a number, got a string');
    assert.deepEqual([problem.line, problem.column], [9, 73]);
    assert.equal(text.slice(problem.offset, problem.offset + problem.length), '"3600"');
    assert.equal(result.line, 9);
    assert.equal(
      result.message,
      '.vscode/lifeline.json: jobs[1].stages[1].timeoutSeconds: expected a number, got a string (line 9, column 73).',
    );
  });

  it('reports each of several errors at its own field, in the order of the file', () => {
    const text = JSON.stringify(
      {
        version: 2,
        jobs: [
          { name: 'a', command: 5 },
          {
            name: 'b',
            stages: [{ name: 's', command: 'x' }],
            retries: { maxAttempts: 2, backoff: 'linear' },
            shell: 'zsh',
            env: { '1x': 'y' },
          },
        ],
      },
      null,
      2,
    );
    const result = parseWorkspaceConfig(text);
    assert.ok(!result.ok);
    const at = (path: string) => {
      const problem = result.problems.find((p) => p.path === path);
      assert.ok(problem, `${path} in ${JSON.stringify(result.problems)}`);
      return { message: problem.message, text: text.slice(problem.offset, problem.offset + problem.length) };
    };
    assert.deepEqual(
      result.problems.map((p) => p.path),
      ['version', 'jobs[0].command', 'jobs[1].retries.backoff', 'jobs[1].shell', 'jobs[1].env["1x"]'],
    );
    assert.deepEqual(at('version'), { message: 'expected 1, got 2', text: '2' });
    assert.deepEqual(at('jobs[0].command'), { message: 'expected a string, got a number', text: '5' });
    assert.deepEqual(at('jobs[1].retries.backoff'), { message: 'expected "fixed" or "exponential", got "linear"', text: '"linear"' });
    assert.deepEqual(at('jobs[1].shell'), { message: 'unknown field', text: '"shell"' });
    assert.deepEqual(at('jobs[1].env["1x"]'), { message: 'environment variable names are letters, digits and _', text: '"1x"' });
  });

  it('tells a job that is neither a command nor a pipeline, or not an object, what it lacks', () => {
    const text = JSON.stringify(
      { version: 1, jobs: [{ name: 'a' }, 'b', { name: 'c', command: 'x', stages: [{ name: 's', command: 'y' }] }] },
      null,
      2,
    );
    const result = parseWorkspaceConfig(text);
    assert.ok(!result.ok);
    assert.deepEqual(
      result.problems.map((p) => `${p.path}: ${p.message}`),
      [
        'jobs[0]: a job has either a "command" or "stages" (exactly one of the two)',
        'jobs[1]: expected an object, got a string',
        'jobs[2]: a job has either a "command" or "stages" (exactly one of the two)',
      ],
    );
  });

  it('shows a missing field at the opening brace of its object', () => {
    const text = '{ "version": 1, "jobs": [{ "name": "a", "retries": { "backoff": "fixed" }, "command": "x" }] }';
    const result = parseWorkspaceConfig(text);
    assert.ok(!result.ok);
    const [problem] = result.problems;
    assert.ok(problem);
    assert.equal(`${problem.path}: ${problem.message}`, 'jobs[0].retries.maxAttempts: required: expected a number');
    assert.equal(text.slice(problem.offset, problem.offset + problem.length), '{');
    assert.equal(problem.offset, text.indexOf('{ "backoff"'));
  });

  it('accepts comments and trailing commas, as VS Code does in .vscode/*.json', () => {
    const result = parseWorkspaceConfig(
      '// jobs of this repo\n{ "version": 1, /* one */ "jobs": [{ "name": "a", "command": "true", },], }',
    );
    assert.ok(result.ok, result.ok ? '' : result.message);
    assert.equal(result.config.jobs[0]?.name, 'a');
  });

  it('names every invalid field and its problem', () => {
    const result = parseWorkspaceConfig(
      JSON.stringify({
        version: 2,
        jobs: [
          { name: 'a', command: '' },
          { name: 'b', stages: [] },
        ],
      }),
    );
    assert.ok(!result.ok);
    assert.match(result.message, /version/);
    assert.match(result.message, /a command cannot be empty|at least one stage/);
  });

  it('refuses two jobs with one name and unknown keys', () => {
    const twice = parseWorkspaceConfig(
      JSON.stringify({
        version: 1,
        jobs: [
          { name: 'a', command: 'x' },
          { name: 'a', command: 'y' },
        ],
      }),
    );
    assert.ok(!twice.ok);
    assert.match(twice.message, /two jobs share one name/);
    // At the repeated name, not on the whole list.
    assert.equal(twice.problems[0]?.path, 'jobs[1].name');
    const stages = parseWorkspaceConfig(
      JSON.stringify({
        version: 1,
        jobs: [
          {
            name: 'a',
            stages: [
              { name: 's', command: 'x' },
              { name: 's', command: 'y' },
            ],
          },
        ],
      }),
    );
    assert.ok(!stages.ok);
    assert.equal(`${stages.problems[0]?.path}: ${stages.problems[0]?.message}`, 'jobs[0].stages[1].name: two stages share one name ("s")');
    const unknown = parseWorkspaceConfig(JSON.stringify({ version: 1, jobs: [{ name: 'a', command: 'x', shell: 'zsh' }] }));
    assert.ok(!unknown.ok);
    assert.match(unknown.message, /shell/);
  });
});
