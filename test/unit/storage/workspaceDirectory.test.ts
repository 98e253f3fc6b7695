import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openWorkspaceDirectory, WorkspaceDirectoryError, workspaceDirectoryName } from '../../../src/core/storage/workspaceDirectory';

describe('workspace directory', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'lifeline-wsdir-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('creates one folder per workspace key with a manifest naming it', async () => {
    const a = await openWorkspaceDirectory(root, 'file:/home/me/project-a');
    const b = await openWorkspaceDirectory(root, 'file:/home/me/project-b');
    assert.notEqual(a.path, b.path);
    assert.equal(JSON.parse(readFileSync(join(a.path, 'manifest.json'), 'utf8')).workspaceKey, 'file:/home/me/project-a');
  });

  it('reopens the same folder for the same key and keeps the first manifest', async () => {
    const first = await openWorkspaceDirectory(root, 'file:/w', new Date('2026-01-01T00:00:00Z'));
    const second = await openWorkspaceDirectory(root, 'file:/w', new Date('2026-06-01T00:00:00Z'));
    assert.equal(first.path, second.path);
    assert.equal(second.manifest.createdAt, '2026-01-01T00:00:00.000Z');
  });

  it('refuses a folder whose manifest is corrupt, and leaves it untouched', async () => {
    const { path } = await openWorkspaceDirectory(root, 'file:/w');
    writeFileSync(join(path, 'manifest.json'), '{"formatVersion": 1, "worksp');
    await assert.rejects(openWorkspaceDirectory(root, 'file:/w'), (error) => WorkspaceDirectoryError.is(error, 'manifestUnreadable'));
    assert.equal(readFileSync(join(path, 'manifest.json'), 'utf8'), '{"formatVersion": 1, "worksp');
  });

  it('refuses a folder that belongs to another workspace', async () => {
    const { path } = await openWorkspaceDirectory(root, 'file:/w');
    const manifest = JSON.parse(readFileSync(join(path, 'manifest.json'), 'utf8'));
    writeFileSync(join(path, 'manifest.json'), JSON.stringify({ ...manifest, workspaceKey: 'file:/other' }));
    await assert.rejects(openWorkspaceDirectory(root, 'file:/w'), (error) => WorkspaceDirectoryError.is(error, 'manifestMismatch'));
  });

  it('names folders by a stable hash of the key', () => {
    assert.equal(workspaceDirectoryName('file:/w'), workspaceDirectoryName('file:/w'));
    assert.match(workspaceDirectoryName('file:/w'), /^[0-9a-f]{24}$/);
  });
});
