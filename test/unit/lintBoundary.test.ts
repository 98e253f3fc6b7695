import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const repoRoot = join(__dirname, '..', '..', '..');
type LintMessage = { ruleId: string | null; message: string };
type LintResult = { messages: LintMessage[] };
type Linter = {
  lintText(code: string, options: { filePath: string }): Promise<LintResult[]>;
  lintFiles(patterns: string[]): Promise<LintResult[]>;
};
let linter: Linter | undefined;
/** One ESLint for the file: loading the config (and its resolver) is the slow part. */
async function eslint(): Promise<Linter> {
  if (!linter) {
    const { ESLint } = (await import('eslint')) as unknown as { ESLint: new (options: { cwd: string }) => Linter };
    linter = new ESLint({ cwd: repoRoot });
  }
  return linter;
}
async function lint(code: string, filePath: string): Promise<LintMessage[]> {
  const [result] = await (await eslint()).lintText(code, { filePath: join(repoRoot, filePath) });
  return result?.messages ?? [];
}

/** The eslint rule that the core never imports vscode really fails on a vscode import in the core. */
describe('lint boundary: the core never imports vscode', () => {
  const vscodeImport = "import * as vscode from 'vscode';\nexport const x = vscode.version;\n";

  for (const file of ['src/core/storage/leak.ts', 'src/core/queue/leak.ts', 'src/supervisor/leak.ts']) {
    it(`fails on a vscode import in ${file}`, async () => {
      const messages = await lint(vscodeImport, file);
      assert.ok(
        messages.some((m) => m.ruleId === 'no-restricted-imports' && m.message.includes('never import vscode')),
        JSON.stringify(messages),
      );
    });
  }

  it('fails on an import of the VS Code layer from the core', async () => {
    const messages = await lint(
      "import { readSettings } from '../../vscode/settings';\nexport const y = readSettings;\n",
      'src/core/queue/leak.ts',
    );
    assert.ok(
      messages.some((m) => m.ruleId === 'no-restricted-imports'),
      JSON.stringify(messages),
    );
  });

  it('allows a vscode import in src/vscode', async () => {
    const messages = await lint(vscodeImport, 'src/vscode/fine.ts');
    assert.deepEqual(
      messages.filter((m) => m.ruleId === 'no-restricted-imports'),
      [],
    );
  });
});

/**
 * The layer picture of docs/architecture.md: each rule fires on a planted forbidden import (of a file
 * that exists, since the rule matches resolved paths) and stays quiet on an allowed one.
 */
describe('lint boundary: the layers of docs/architecture.md', () => {
  const zoneRule = 'import-x/no-restricted-paths';
  const importOf = (specifier: string) => `import * as planted from '${specifier}';\nexport const z = planted;\n`;
  const layerErrors = (messages: LintMessage[]) => messages.filter((m) => m.ruleId === zoneRule);
  /** The rule skips what does not resolve, so a planted import must name a file that exists. */
  function assertExists(file: string, specifier: string): void {
    const target = join(repoRoot, dirname(file), `${specifier}.ts`);
    assert.ok(existsSync(target), `${target} moved: plant an import of another file of that folder`);
  }

  const cases: { rule: string; file: string; forbidden: string[]; allowed: string[] }[] = [
    {
      rule: 'storage is the bottom',
      file: 'src/core/storage/leak.ts',
      forbidden: [
        '../queue/jobModel',
        '../session/queueSession',
        '../supervisors/supervisorPool',
        '../history/historyEntry',
        '../workspaceConfig/jobFolders',
        '../panels/panelRecoveryPlan',
      ],
      allowed: ['./journal', '../logger', '../clock'],
    },
    {
      rule: 'history does not know the queue',
      file: 'src/core/history/leak.ts',
      forbidden: ['../queue/jobModel', '../session/queueSession', '../supervisors/supervisorPool'],
      allowed: ['../storage/journal', './historyEntry', '../logger'],
    },
    {
      rule: 'shared is a leaf',
      file: 'src/shared/leak.ts',
      forbidden: ['../core/queue/jobModel', '../core/logger', '../vscode/settings', '../supervisor/cappedLog'],
      allowed: ['./jobDisplay'],
    },
    {
      rule: 'the supervisor stands alone',
      file: 'src/supervisor/leak.ts',
      forbidden: [
        '../core/queue/jobModel',
        '../core/session/queueSession',
        '../core/supervisors/supervisorPool',
        '../core/history/historyEntry',
      ],
      allowed: ['../core/storage/journal', '../core/lineSplitter', '../shared/jobDisplay', './cappedLog'],
    },
    {
      rule: 'webviews see src/shared only',
      file: 'media/queuePanel/leak.ts',
      forbidden: ['../../src/core/queue/jobModel', '../../src/supervisor/cappedLog'],
      allowed: ['../../src/shared/jobDisplay'],
    },
  ];
  for (const { rule, file, forbidden, allowed } of cases) {
    it(`"${rule}" fails on each forbidden import in ${file}`, async () => {
      for (const specifier of forbidden) {
        assertExists(file, specifier);
        const errors = layerErrors(await lint(importOf(specifier), file));
        assert.equal(errors.length, 1, `${specifier}: ${JSON.stringify(errors)}`);
        assert.ok(
          errors[0]?.message.includes(`Layer rule "${rule}"`) && errors[0].message.includes('docs/architecture.md'),
          errors[0]?.message,
        );
      }
    });
    it(`"${rule}" allows ${allowed.join(', ')} in ${file}`, async () => {
      for (const specifier of allowed) {
        assertExists(file, specifier);
        assert.deepEqual(layerErrors(await lint(importOf(specifier), file)), [], specifier);
      }
    });
  }
});

describe('lint boundary: no import cycles in src', () => {
  let folder: string | undefined;
  afterEach(() => {
    if (folder) rmSync(folder, { recursive: true, force: true });
    folder = undefined;
  });
  /** Two real files under src (the rule follows imports on disk); removed after the test. */
  function plant(files: Record<string, string>): string[] {
    folder = mkdtempSync(join(repoRoot, 'src', 'core', 'lintProbe-'));
    return Object.entries(files).map(([name, code]) => {
      writeFileSync(join(folder!, name), code);
      return relative(repoRoot, join(folder!, name));
    });
  }
  const cycleErrors = (results: LintResult[]) => results.flatMap((r) => r.messages.filter((m) => m.ruleId === 'import-x/no-cycle'));

  it('fails on a two-file cycle', async () => {
    const files = plant({
      'first.ts': "import { second } from './second';\nexport const first = () => second();\n",
      'second.ts': "import { first } from './first';\nexport const second = (): unknown => first;\n",
    });
    const errors = cycleErrors(await (await eslint()).lintFiles(files));
    assert.equal(errors.length, 2, JSON.stringify(errors));
  });

  it('allows a one-way import', async () => {
    const files = plant({
      'first.ts': "import { second } from './second';\nexport const first = () => second();\n",
      'second.ts': 'export const second = (): unknown => 2;\n',
    });
    assert.deepEqual(cycleErrors(await (await eslint()).lintFiles(files)), []);
  });
});

describe('lint: no line over 140 columns but a whole string', () => {
  const name = 'a'.repeat(150);
  it('fails on a line of code or a comment past 140 columns', async () => {
    for (const code of [`export const ${name} = 1;\n`, `// ${name}\nexport const x = 1;\n`]) {
      const messages = await lint(code, 'src/core/queue/wide.ts');
      assert.ok(
        messages.some((m) => m.ruleId === 'max-len'),
        JSON.stringify(messages),
      );
    }
  });
  it('lets a long message stay whole, so it can be searched for', async () => {
    const messages = await lint(`export const message = '${name}';\n`, 'src/core/queue/wide.ts');
    assert.deepEqual(
      messages.filter((m) => m.ruleId === 'max-len'),
      [],
    );
  });
});
