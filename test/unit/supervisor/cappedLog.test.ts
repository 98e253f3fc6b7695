import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CappedLog } from '../../../src/supervisor/cappedLog';

describe('supervisor: capped output log', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'lifeline-caplog-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps everything under the cap', () => {
    const log = new CappedLog(join(dir, 'a.log'), 100);
    log.write(Buffer.from('hello\n'));
    log.close();
    assert.equal(readFileSync(join(dir, 'a.log'), 'utf8'), 'hello\n');
  });

  it('keeps the head and the tail and says how much was cut', () => {
    const log = new CappedLog(join(dir, 'b.log'), 24);
    for (let i = 0; i < 10; i++) log.write(Buffer.from(`line${i}\n`));
    log.close();
    const text = readFileSync(join(dir, 'b.log'), 'utf8');
    assert.ok(text.startsWith('line0\nline1\n'), text);
    assert.ok(text.endsWith('line8\nline9\n'), text);
    assert.match(text, /\[lifeline: 36 bytes of output were cut here/);
  });
});
