import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CommandIds } from '../../../src/shared/commandIds';

const repoRoot = join(__dirname, '..', '..', '..', '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

describe('command ids (src/shared/commandIds.ts against package.json)', () => {
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { contributes: { commands: { command: string }[] } };
  const contributed = manifest.contributes.commands.map((entry) => entry.command);
  const constants: string[] = Object.values(CommandIds);

  it('has a constant for every contributed command', () => {
    assert.deepEqual(
      contributed.filter((id) => !constants.includes(id)),
      [],
    );
  });

  it('contributes every constant', () => {
    assert.deepEqual(
      constants.filter((id) => !contributed.includes(id)),
      [],
    );
    assert.equal(new Set(constants).size, constants.length, 'no id twice');
  });

  it('is what the extension registers and executes: no id of Lifeline written out elsewhere', () => {
    // `lifeline.<name>` only: VS Code's own commands of Lifeline's views (`lifeline.recovery.focus`) are not contributed.
    const literal = /(?:registerCommand|executeCommand)\(\s*['"`](lifeline\.\w+)['"`]/g;
    const found = [join(repoRoot, 'src', 'extension.ts'), ...sourceFiles(join(repoRoot, 'src', 'vscode'))].flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(literal)].map((match) => `${relative(repoRoot, file)}: ${match[1] ?? ''}`),
    );
    assert.deepEqual(found, []);
  });
});
