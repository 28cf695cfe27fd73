// Tiny reader for the Covertype gz-CSV (header row, integer values, '\n' line endings, no
// quoting), for the forest benchmark and tests only. The dataset module lives in src/dataset.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type { Matrix } from '../src/forest/index.ts';

export interface Dataset {
  X: Matrix;
  y: Float64Array;
  featureNames: string[];
}

/** COVERTYPE_PATH, else ../shared/data/covertype/covertype.csv.gz relative to the repo root. */
export function covertypePath(): string {
  const env = process.env.COVERTYPE_PATH;
  if (env) return resolve(env);
  return fileURLToPath(new URL('../../shared/data/covertype/covertype.csv.gz', import.meta.url));
}

/** Parses the file; the last column is the label. `maxRows` keeps only the first rows. */
export function loadCovertype(path: string = covertypePath(), maxRows = Infinity): Dataset {
  const buf = gunzipSync(readFileSync(path));
  let pos = buf.indexOf(10);
  if (pos < 0) throw new Error(`${path}: no header line`);
  const header = buf.subarray(0, pos).toString('utf8').trim().split(',');
  const cols = header.length - 1;
  pos++;
  // Upper bound on rows: count newlines after the header.
  let lines = 0;
  for (let i = pos; i < buf.length; i++) if (buf[i] === 10) lines++;
  if (buf.length > 0 && buf[buf.length - 1] !== 10) lines++;
  const cap = Math.min(lines, maxRows);
  const data = new Float64Array(cap * cols);
  const y = new Float64Array(cap);
  let row = 0;
  while (pos < buf.length && row < cap) {
    for (let c = 0; c <= cols; c++) {
      let neg = false;
      if (buf[pos] === 45) {
        neg = true;
        pos++;
      }
      let v = 0;
      let digits = 0;
      let ch = buf[pos];
      while (ch >= 48 && ch <= 57) {
        v = v * 10 + (ch - 48);
        digits++;
        ch = buf[++pos];
      }
      if (digits === 0) throw new Error(`${path}: bad value at data row ${row + 1}, column ${c + 1}`);
      if (neg) v = -v;
      if (c < cols) data[row * cols + c] = v;
      else y[row] = v;
      const sep = c < cols ? 44 : 10;
      if (ch === sep || (c === cols && ch === undefined)) pos++;
      else if (c === cols && ch === 13 && buf[pos + 1] === 10) pos += 2;
      else throw new Error(`${path}: unexpected character at data row ${row + 1}, column ${c + 1}`);
    }
    row++;
  }
  return { X: { rows: row, cols, data: data.subarray(0, row * cols) }, y: y.subarray(0, row), featureNames: header.slice(0, cols) };
}

/** Rows `indices` of a dataset as a new dataset. */
export function takeRows(ds: Dataset, indices: ArrayLike<number>): Dataset {
  const cols = ds.X.cols;
  const data = new Float64Array(indices.length * cols);
  const y = new Float64Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i];
    data.set(ds.X.data.subarray(r * cols, r * cols + cols), i * cols);
    y[i] = ds.y[r];
  }
  return { X: { rows: indices.length, cols, data }, y, featureNames: ds.featureNames };
}

/** Seeded stratified split: ceil(testFraction * n) test rows spread over classes by largest remainder. */
export function stratifiedSplit(y: ArrayLike<number>, testFraction: number, seed: number): { train: Uint32Array; test: Uint32Array } {
  const n = y.length;
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const list = byClass.get(y[i]);
    if (list) list.push(i);
    else byClass.set(y[i], [i]);
  }
  const labels = [...byClass.keys()].sort((a, b) => a - b);
  const nTest = Math.ceil(testFraction * n);
  const exact = labels.map((c) => (byClass.get(c)!.length * nTest) / n);
  const take = exact.map(Math.floor);
  let left = nTest - take.reduce((a, b) => a + b, 0);
  const order = labels.map((_, i) => i).sort((a, b) => exact[b] - take[b] - (exact[a] - take[a]) || a - b);
  for (const i of order) {
    if (left === 0) break;
    take[i]++;
    left--;
  }
  let state = seed >>> 0 || 1;
  const rand = (m: number): number => {
    // xorshift32: enough for a reproducible shuffle.
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state % m;
  };
  const train: number[] = [];
  const test: number[] = [];
  labels.forEach((c, ci) => {
    const list = byClass.get(c)!;
    for (let i = list.length - 1; i > 0; i--) {
      const j = rand(i + 1);
      [list[i], list[j]] = [list[j], list[i]];
    }
    for (let i = 0; i < list.length; i++) (i < take[ci] ? test : train).push(list[i]);
  });
  train.sort((a, b) => a - b);
  test.sort((a, b) => a - b);
  return { train: Uint32Array.from(train), test: Uint32Array.from(test) };
}
