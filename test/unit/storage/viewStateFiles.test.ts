import * as assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ViewStateFiles } from '../../../src/core/storage/viewStateFiles';

const schema = z.object({ version: z.literal(1), filter: z.string() }).strict();

describe('storage: panel view state files', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'lifeline-viewstate-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('saves the last of a burst of changes, and loads it back in a new instance', async () => {
    const files = new ViewStateFiles(join(dir, 'ui'), { delayMs: 10_000 });
    for (const filter of ['b', 'bu', 'bui', 'build']) files.save('queuePanel', { version: 1, filter });
    await files.flush();
    assert.deepEqual(readdirSync(join(dir, 'ui')), ['queuePanel.json'], 'one file, no temporary left behind');
    assert.deepEqual(await new ViewStateFiles(join(dir, 'ui')).load('queuePanel', schema), { version: 1, filter: 'build' });
  });

  it('ignores a missing, garbled or invalid file, and refuses keys that are not plain names', async () => {
    const files = new ViewStateFiles(dir);
    assert.equal(await files.load('queuePanel', schema), undefined);
    writeFileSync(join(dir, 'queuePanel.json'), '{"version":1,"filt');
    assert.equal(await files.load('queuePanel', schema), undefined);
    writeFileSync(join(dir, 'queuePanel.json'), JSON.stringify({ version: 1, filter: 3 }));
    assert.equal(await files.load('queuePanel', schema), undefined);
    assert.throws(() => files.save('../escape', {}), /not a view state key/);
  });
});
