import * as assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fsyncDirectory, writeFileAtomic } from '../../../src/core/storage/atomicFile';
import { fsp, installStorageFs } from '../../../src/core/storage/storageFs';
import { PAGE_SIZE, PowerLossFs, PowerOffError } from './powerLossFs';
import { makeTempDir } from './storageTestKit';

/** A random source that always answers `value`: 0 keeps every torn page, 0.99 drops every one. */
const always = (value: number) => () => value;

describe('PowerLossFs (the simulated power cut)', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let layer: PowerLossFs;
  let installed: { dispose(): void };
  beforeEach(() => {
    temp = makeTempDir('lifeline-powerloss-');
    layer = new PowerLossFs();
    installed = installStorageFs(layer);
  });
  afterEach(() => {
    installed.dispose();
    temp.cleanup();
  });

  async function writeAt(path: string, data: Buffer, position: number, sync: boolean): Promise<void> {
    const handle = await fsp.open(path, 'r+');
    await handle.write(data, 0, data.length, position);
    if (sync) await handle.datasync();
    await handle.close();
  }

  it('loses a write that was never synced, and keeps one that was', async () => {
    const path = join(temp.dir, 'file');
    writeFileSync(path, 'durable'); // before the layer saw it: on disk
    await writeAt(path, Buffer.from('SYNCED!'), 0, true);
    await writeAt(path, Buffer.from('lost'), 0, false);
    assert.equal(readFileSync(path, 'utf8'), 'lostED!');
    await layer.cut(always(0.99));
    assert.equal(readFileSync(path, 'utf8'), 'SYNCED!');
  });

  it('undoes a rename whose directory was not synced, and an unlink, and keeps a synced create', async () => {
    const old = join(temp.dir, 'old');
    const gone = join(temp.dir, 'gone');
    writeFileSync(old, 'old content');
    writeFileSync(gone, 'gone content');
    const handle = await fsp.open(join(temp.dir, 'created'), 'wx');
    await handle.writeFile('new');
    await handle.sync();
    await handle.close();
    await fsyncDirectory(temp.dir);
    await fsp.rename(old, join(temp.dir, 'renamed'));
    await fsp.unlink(gone);
    await layer.cut(always(0.99));
    assert.equal(readFileSync(join(temp.dir, 'created'), 'utf8'), 'new');
    assert.equal(existsSync(join(temp.dir, 'renamed')), false);
    assert.equal(readFileSync(old, 'utf8'), 'old content');
    assert.equal(readFileSync(gone, 'utf8'), 'gone content');
  });

  it('removes a created file whose directory was not synced, even though its data was', async () => {
    const path = join(temp.dir, 'fresh');
    const handle = await fsp.open(path, 'wx');
    await handle.writeFile('synced data, unsynced name');
    await handle.sync();
    await handle.close();
    await layer.cut(always(0.99));
    assert.equal(existsSync(path), false);
  });

  it('keeps an atomic replace whole: the old content or the new, never a mix', async () => {
    const path = join(temp.dir, 'target');
    writeFileSync(path, 'old');
    await writeFileAtomic(path, 'new');
    await layer.cut(always(0));
    assert.equal(readFileSync(path, 'utf8'), 'new');
  });

  it('tears unsynced writes only in whole 4 KiB pages', async () => {
    const path = join(temp.dir, 'pages');
    const before = Buffer.alloc(4 * PAGE_SIZE, 'a');
    writeFileSync(path, before);
    const after = Buffer.alloc(4 * PAGE_SIZE, 'b');
    await writeAt(path, after.subarray(100), 100, false); // every page changes, from byte 100
    let draw = 0;
    // torn (first draw < 0.6), keep the length (second), then keep, drop, keep, drop the pages
    const answers = [0.1, 0.9, 0.1, 0.9, 0.1, 0.9];
    await layer.cut(() => answers[draw++] ?? 0.9);
    const found = readFileSync(path);
    assert.equal(found.length, before.length);
    for (let page = 0; page < 4; page++) {
      const slice = found.subarray(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
      const expected = page % 2 === 0 ? after : before;
      const start = page === 0 ? 100 : 0;
      assert.ok(slice.subarray(start).equals(expected.subarray(page * PAGE_SIZE + start, (page + 1) * PAGE_SIZE)), `page ${page}`);
    }
  });

  it('refuses every call after the cut until reset, and counts calls', async () => {
    const path = join(temp.dir, 'file');
    writeFileSync(path, 'x');
    layer.cutAtCall(layer.calls + 2, always(0.5));
    await fsp.stat(path);
    await assert.rejects(fsp.readFile(path), PowerOffError);
    await layer.whenCut;
    await assert.rejects(fsp.stat(path), PowerOffError);
    layer.reset();
    assert.equal((await fsp.readFile(path, 'utf8')) as unknown as string, 'x');
  });
});
