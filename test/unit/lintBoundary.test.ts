import * as assert from 'node:assert/strict';
import { join } from 'node:path';

/** The eslint rule of STYLE.md rule 1 really fails on a vscode import in the core. */
describe('lint boundary: the core never imports vscode', () => {
  const repoRoot = join(__dirname, '..', '..', '..');
  type LintMessage = { ruleId: string | null; message: string };
  async function lint(code: string, filePath: string): Promise<LintMessage[]> {
    const { ESLint } = (await import('eslint')) as unknown as {
      ESLint: new (options: { cwd: string }) => { lintText(code: string, options: { filePath: string }): Promise<{ messages: LintMessage[] }[]> };
    };
    const [result] = await new ESLint({ cwd: repoRoot }).lintText(code, { filePath: join(repoRoot, filePath) });
    return result?.messages ?? [];
  }
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
    const messages = await lint("import { QueuePanel } from '../../vscode/queuePanel';\nexport const y = QueuePanel;\n", 'src/core/queue/leak.ts');
    assert.ok(messages.some((m) => m.ruleId === 'no-restricted-imports'), JSON.stringify(messages));
  });

  it('allows a vscode import in src/vscode', async () => {
    const messages = await lint(vscodeImport, 'src/vscode/fine.ts');
    assert.deepEqual(
      messages.filter((m) => m.ruleId === 'no-restricted-imports'),
      [],
    );
  });
});
