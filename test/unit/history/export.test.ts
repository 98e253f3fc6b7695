import * as assert from 'node:assert/strict';
import { createWriteStream, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { csvColumns, csvField, exportHistory } from '../../../src/core/history/historyExport';
import type { ExportOptions } from '../../../src/core/history/historyExport';
import { MemoryHistoryLog } from '../../../src/core/history/historyLog';
import type { JobHistory } from '../../../src/core/history/jobHistory';
import { makeEntry, openHistory, tempDir } from './historyFixtures';

/** A strict RFC 4180 reader, to prove the writer's escaping round-trips. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  return rows;
}

const tricky = 'say "hi", then\r\nnew line, 😀 ';

describe('history export', () => {
  let dir: ReturnType<typeof tempDir>;
  let history: JobHistory;
  before(async () => {
    dir = tempDir('export');
    ({ history } = await openHistory(dir.path, {
      log: new MemoryHistoryLog(),
      maxActiveEntries: 40,
      archiveMargin: 100_000,
      maxShardBytes: 32 * 1024,
    }));
    for (let i = 1; i <= 1250; i++) {
      await history.append(makeEntry(i, i === 5 || i === 1249 ? { name: tricky, error: 'a,b', tags: ['x;y'] } : {}));
    }
    await history.archiveNow();
  });
  after(async () => {
    await history.close();
    dir.remove();
  });

  async function exportTo(name: string, options: ExportOptions): Promise<{ text: string; count: number }> {
    const path = join(dir.path, name);
    const out = createWriteStream(path);
    const { count } = await exportHistory(history, out, options);
    out.end();
    await once(out, 'close');
    return { text: readFileSync(path, 'utf8'), count };
  }

  it('escapes CSV fields per RFC 4180', () => {
    assert.equal(csvField('plain'), 'plain');
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('two\nlines'), '"two\nlines"');
    assert.equal(csvField(' edge'), '" edge"');
    assert.equal(csvField(undefined), '');
    assert.equal(csvField(0), '0');
  });

  it('writes times exactly as toISOString does', async () => {
    const { text } = await exportTo('times.csv', { format: 'csv', scope: 'active' });
    const rows = parseCsv(text).slice(1);
    const column = csvColumns.indexOf('finishedAt');
    for (const row of rows) assert.equal(row[column], new Date(Date.parse(row[column] ?? '')).toISOString());
    assert.equal(rows[0]?.[column], new Date(makeEntry(1211).finishedAt).toISOString());
  });

  for (const [scope, count] of [
    ['active', 40],
    ['archive', 1210],
    ['both', 1250],
  ] as const) {
    it(`streams CSV of the ${scope} history that reads back exactly`, async () => {
      const { text, count: written } = await exportTo(`${scope}.csv`, { format: 'csv', scope });
      assert.equal(written, count);
      const rows = parseCsv(text);
      assert.deepEqual(rows[0], [...csvColumns]);
      assert.equal(rows.length, count + 1);
      const ids = rows.slice(1).map((r) => r[0]);
      assert.equal(new Set(ids).size, count);
      for (const row of rows.slice(1)) assert.equal(row.length, csvColumns.length);
      const trickyRow = rows.find((r) => r[1] === tricky);
      if (scope !== 'active') assert.ok(trickyRow, 'the tricky name survives');
      if (trickyRow) assert.equal(trickyRow[csvColumns.indexOf('error')], 'a,b');
    });

    it(`streams JSON of the ${scope} history`, async () => {
      const { text } = await exportTo(`${scope}.json`, { format: 'json', scope });
      const parsed = JSON.parse(text) as { jobId: string; archived: boolean; name: string }[];
      assert.equal(parsed.length, count);
      assert.equal(parsed.filter((e) => e.archived).length, scope === 'active' ? 0 : 1210);
      if (scope !== 'archive') assert.ok(parsed.some((e) => e.name === tricky));
    });
  }

  it('exports a filtered selection, and an empty one as valid JSON', async () => {
    const { text } = await exportTo('failed.json', { format: 'json', scope: 'both', filter: { states: ['failed'] } });
    assert.equal((JSON.parse(text) as unknown[]).length, 125);
    const none = await exportTo('none.json', { format: 'json', filter: { search: 'nosuchword' } });
    assert.deepEqual(JSON.parse(none.text), []);
  });
});
