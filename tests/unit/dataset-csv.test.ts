import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { isGzip, parseCsv, readCsv } from '../../src/dataset/csv.ts';

describe('parseCsv', () => {
  it('splits \\n and \\r\\n lines, no trailing newline, skips empty lines', () => {
    assert.deepEqual(parseCsv('a,b\r\n1,2\n\n3,4\r\n\r\n5,6'), [
      ['a', 'b'],
      ['1', '2'],
      ['3', '4'],
      ['5', '6'],
    ]);
  });
  it('keeps empty fields', () => {
    assert.deepEqual(parseCsv('a,,c\n,\n'), [
      ['a', '', 'c'],
      ['', ''],
    ]);
  });
  it('handles quoted fields: commas, escaped quotes, newlines, empty quotes', () => {
    const text = 'name,note\r\n"Smith, J","said ""hi"""\n"multi\nline",""\nplain,x"y\n';
    assert.deepEqual(parseCsv(text), [
      ['name', 'note'],
      ['Smith, J', 'said "hi"'],
      ['multi\nline', ''],
      ['plain', 'x"y'],
    ]);
  });
  it('quoted: empty lines skipped, a lone "" record kept, CRLF and no final newline', () => {
    assert.deepEqual(parseCsv('"a"\r\n\r\n""\r\n"b",c'), [['a'], [''], ['b', 'c']]);
  });
  it('rejects an unterminated quote or garbage after a closing quote', () => {
    assert.throws(() => parseCsv('"abc\n1'), /unterminated/);
    assert.throws(() => parseCsv('"abc"x,1'), /after closing quote/);
  });
  it('returns nothing for empty text', () => {
    assert.deepEqual(parseCsv(''), []);
    assert.deepEqual(parseCsv('\n\r\n'), []);
  });
});

describe('readCsv', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dataset-csv-'));
  const text = '\ufeffx,y\n1,2\n3,4';
  const plain = join(dir, 'plain.csv');
  const gz = join(dir, 'data.bin'); // gzip detected by content, not name
  writeFileSync(plain, text);
  writeFileSync(gz, gzipSync(text));
  const server = createServer((req, res) => {
    if (req.url === '/data.csv.gz') res.end(gzipSync(text));
    else {
      res.statusCode = 404;
      res.end('no');
    }
  });
  let base = '';
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const addr = server.address();
    assert.ok(addr !== null && typeof addr === 'object');
    base = `http://127.0.0.1:${addr.port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const expected = {
    header: ['x', 'y'],
    rows: [
      ['1', '2'],
      ['3', '4'],
    ],
  };
  it('reads a plain file (BOM stripped)', async () => assert.deepEqual(await readCsv(plain), expected));
  it('reads a gzip file by magic bytes', async () => {
    assert.ok(isGzip(gzipSync('a')));
    assert.deepEqual(await readCsv(gz), expected);
  });
  it('reads over http', async () => assert.deepEqual(await readCsv(`${base}/data.csv.gz`), expected));
  it('reports an http error', async () => assert.rejects(readCsv(`${base}/missing`), /HTTP 404/));
  it('rejects an empty file', async () => {
    const empty = join(dir, 'empty.csv');
    writeFileSync(empty, '');
    await assert.rejects(readCsv(empty), /empty/);
  });
});
