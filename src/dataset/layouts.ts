// Source layouts: map the columns of a source CSV onto the spec's columns, producing rows of strings
// in spec column order (the shape the data API serves, like the classic course API).
import { decodeText, parseCsv, readSourceBytes } from './csv.ts';
import type { DatasetSpec } from './spec.ts';

export class DatasetLayoutError extends Error {
  override name = 'DatasetLayoutError';
}

/** Converts one source record to spec column order. `line` is 1-based and only used in errors. */
export type RowConverter = (record: readonly string[], line: number) => string[];

// What to do with each source field: copy it to an output column, count it as a one-hot flag, or
// skip it (0, the typed array's initial value).
const COPY = 1;
const FLAG = 2;

type Plan = {
  width: number;
  outWidth: number;
  action: Uint8Array;
  /** COPY: output column. FLAG: group index. */
  target: Int32Array;
  /** FLAG: position k in the group (value = values[k]). */
  flagPos: Int32Array;
  groups: { name: string; column: number; values: readonly string[] }[];
};

function buildPlan(spec: DatasetSpec, header: readonly string[]): Plan {
  const layout = spec.source?.layout ?? 'plain';
  const position = new Map<string, number>();
  for (const [i, h] of header.entries()) position.set(h.trim(), i);
  const width = header.length;
  const action = new Uint8Array(width);
  const target = new Int32Array(width);
  const flagPos = new Int32Array(width);
  const groups: Plan['groups'] = [];
  spec.columns.forEach((col, c) => {
    const at = position.get(col.name);
    if (at !== undefined) {
      action[at] = COPY;
      target[at] = c;
      return;
    }
    if (layout === 'one-hot-covertype' && col.type === 'categorical') {
      const g = groups.length;
      groups.push({ name: col.name, column: c, values: col.values });
      col.values.forEach((_, k) => {
        const flag = `${col.name}${k + 1}`;
        const p = position.get(flag);
        if (p === undefined) throw new DatasetLayoutError(`source header has neither "${col.name}" nor one-hot column "${flag}"`);
        action[p] = FLAG;
        target[p] = g;
        flagPos[p] = k;
      });
      return;
    }
    throw new DatasetLayoutError(`source header has no column "${col.name}" (layout ${layout})`);
  });
  return { width, outWidth: spec.columns.length, action, target, flagPos, groups };
}

/** Per-row one-hot state, reused across rows. */
type FlagState = { hit: Int32Array; count: Int32Array };

function flagValue(plan: Plan, f: number, v: string, line: number): boolean {
  if (v === '1') return true;
  if (v === '0') return false;
  const n = v.trim() === '' ? Number.NaN : Number(v);
  if (n === 1) return true;
  if (n === 0) return false;
  const g = plan.groups[plan.target[f]];
  throw new DatasetLayoutError(`line ${line}: ${g.name}${plan.flagPos[f] + 1} must be 0 or 1, got ${JSON.stringify(v.slice(0, 20))}`);
}

function finishRow(plan: Plan, state: FlagState, out: string[], line: number): string[] {
  for (let g = 0; g < plan.groups.length; g++) {
    const group = plan.groups[g];
    if (state.count[g] !== 1) {
      throw new DatasetLayoutError(`line ${line}: one-hot group ${group.name}1..${group.values.length} has ${state.count[g]} flags set, expected exactly 1`);
    }
    out[group.column] = group.values[state.hit[g]];
  }
  return out;
}

/**
 * Builds a converter from a source header to the spec's column order.
 *
 * `plain`: every spec column must appear in the header by name.
 * `one-hot-covertype`: a categorical column C is read from C itself if present, otherwise from the
 * 0/1 columns C1..Cn where Ck stands for values[k-1]; exactly one flag must be set.
 */
export function buildRowConverter(spec: DatasetSpec, header: readonly string[]): RowConverter {
  const plan = buildPlan(spec, header);
  const state: FlagState = { hit: new Int32Array(plan.groups.length), count: new Int32Array(plan.groups.length) };
  return (record, line) => {
    if (record.length !== plan.width) {
      throw new DatasetLayoutError(`line ${line}: expected ${plan.width} fields, got ${record.length}`);
    }
    const out = new Array<string>(plan.outWidth);
    state.count.fill(0);
    for (let f = 0; f < plan.width; f++) {
      const a = plan.action[f];
      if (a === COPY) out[plan.target[f]] = record[f];
      else if (a === FLAG && flagValue(plan, f, record[f], line)) {
        state.count[plan.target[f]]++;
        state.hit[plan.target[f]] = plan.flagPos[f];
      }
    }
    return finishRow(plan, state, out, line);
  };
}

/**
 * Converts unquoted CSV text without materialising every source field: only copied fields become
 * strings, and "0"/"1" flags are read as characters (Covertype: 13 of 55 fields are kept).
 */
function convertUnquoted(spec: DatasetSpec, text: string): string[][] {
  const n = text.length;
  let pos = 0;
  let line = 0;
  let header: string[] | undefined;
  let plan: Plan | undefined;
  let state: FlagState | undefined;
  const rows: string[][] = [];
  while (pos < n) {
    line++;
    let end = text.indexOf('\n', pos);
    if (end === -1) end = n;
    let lineEnd = end;
    if (lineEnd > pos && text.charCodeAt(lineEnd - 1) === 13) lineEnd--;
    const start = pos;
    pos = end + 1;
    if (lineEnd === start) continue;
    if (plan === undefined || state === undefined) {
      header = text.slice(start, lineEnd).split(',');
      plan = buildPlan(spec, header);
      state = { hit: new Int32Array(plan.groups.length), count: new Int32Array(plan.groups.length) };
      continue;
    }
    const out = new Array<string>(plan.outWidth);
    state.count.fill(0);
    let f = 0;
    let fs = start;
    for (;;) {
      let fe = text.indexOf(',', fs);
      if (fe === -1 || fe > lineEnd) fe = lineEnd;
      if (f < plan.width) {
        const a = plan.action[f];
        if (a === COPY) out[plan.target[f]] = text.slice(fs, fe);
        else if (a === FLAG) {
          const ch = fe - fs === 1 ? text.charCodeAt(fs) : -1;
          if (ch === 49 /* 1 */ || (ch !== 48 /* 0 */ && flagValue(plan, f, text.slice(fs, fe), line))) {
            state.count[plan.target[f]]++;
            state.hit[plan.target[f]] = plan.flagPos[f];
          }
        }
      }
      f++;
      if (fe === lineEnd) break;
      fs = fe + 1;
    }
    if (f !== plan.width) throw new DatasetLayoutError(`line ${line}: expected ${plan.width} fields, got ${f}`);
    rows.push(finishRow(plan, state, out, line));
  }
  if (header === undefined) throw new DatasetLayoutError('source CSV is empty');
  return rows;
}

/**
 * Reads a source CSV (path or URL, plain or gzip) and returns its rows as strings in the spec's
 * column order. Throws `DatasetLayoutError` on a header that does not fit the layout or on a
 * malformed row (wrong field count, a one-hot group without exactly one flag); values are
 * otherwise left for `validateRows`.
 */
export async function loadDatasetRows(spec: DatasetSpec, source: string | URL): Promise<string[][]> {
  const text = await decodeText(await readSourceBytes(source));
  return convertText(spec, text);
}

/** `loadDatasetRows` on CSV text already in memory. Error line numbers are 1-based physical lines. */
export function convertText(spec: DatasetSpec, text: string): string[][] {
  if (!text.includes('"')) return convertUnquoted(spec, text);
  const records = parseCsv(text);
  const header = records.shift();
  if (header === undefined) throw new DatasetLayoutError('source CSV is empty');
  const convert = buildRowConverter(spec, header);
  const out = new Array<string[]>(records.length);
  // Counting the header as line 1; exact unless the file has blank lines or quoted newlines.
  for (let i = 0; i < records.length; i++) out[i] = convert(records[i], i + 2);
  return out;
}
