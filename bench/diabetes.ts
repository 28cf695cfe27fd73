// Self-contained numeric encoding of the Diabetes 130-US hospitals data for bench/boost.ts only.
// The pipeline's own encoding is spec-driven (datasets/diabetes.spec.json); this one just has to
// give every learner in the benchmark the same matrix:
//   - `?` is a missing value (NaN); `None` in max_glu_serum / A1Cresult is a real category;
//   - categorical columns become integer codes (values sorted, so the codes are reproducible);
//   - age "[70-80)" becomes its decade 7; diag_1..3 become numbers (V codes 1000+, E codes 2000+);
//   - encounter_id is dropped, patient_nbr is kept aside as the group key for the split;
//   - the target is readmitted == "<30".
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type { Dataset } from './covertype.ts';

export interface GroupedDataset extends Dataset {
  groups: Float64Array;
}

/** DIABETES_PATH, else ../shared/data/diabetes/diabetic_data.csv.gz relative to the repo root. */
export function diabetesPath(): string {
  const env = process.env.DIABETES_PATH;
  if (env) return resolve(env);
  return fileURLToPath(new URL('../../shared/data/diabetes/diabetic_data.csv.gz', import.meta.url));
}

const NUMERIC = new Set([
  'time_in_hospital',
  'num_lab_procedures',
  'num_procedures',
  'num_medications',
  'number_outpatient',
  'number_emergency',
  'number_inpatient',
  'number_diagnoses',
]);
const DROP = new Set(['encounter_id', 'patient_nbr', 'readmitted']);

function diagValue(code: string): number {
  if (code === '?') return Number.NaN;
  if (code.startsWith('V')) return 1000 + Number(code.slice(1));
  if (code.startsWith('E')) return 2000 + Number(code.slice(1));
  return Number(code);
}

export function loadDiabetes(path: string = diabetesPath(), maxRows = Infinity): GroupedDataset {
  const lines = gunzipSync(readFileSync(path)).toString('utf8').split('\n');
  const header = lines[0].split(',');
  const rows: string[][] = [];
  for (let i = 1; i < lines.length && rows.length < maxRows; i++) if (lines[i]) rows.push(lines[i].split(','));
  const col = (name: string): number => {
    const c = header.indexOf(name);
    if (c < 0) throw new Error(`${path}: no column ${name}`);
    return c;
  };
  const features = header.filter((h) => !DROP.has(h));
  const codes = new Map<string, Map<string, number>>();
  for (const name of features) {
    if (NUMERIC.has(name) || name === 'age' || name.startsWith('diag_')) continue;
    const c = col(name);
    const values = [...new Set(rows.map((r) => r[c]).filter((v) => v !== '?'))].sort();
    codes.set(name, new Map(values.map((v, i) => [v, i])));
  }
  const p = features.length;
  const data = new Float64Array(rows.length * p);
  const y = new Float64Array(rows.length);
  const groups = new Float64Array(rows.length);
  const cols = features.map(col);
  const target = col('readmitted');
  const patient = col('patient_nbr');
  rows.forEach((r, i) => {
    for (let j = 0; j < p; j++) {
      const name = features[j];
      const v = r[cols[j]];
      let x: number;
      if (v === '?') x = Number.NaN;
      else if (NUMERIC.has(name)) x = Number(v);
      else if (name === 'age') x = Number(/^\[(\d+)-/.exec(v)?.[1] ?? Number.NaN) / 10;
      else if (name.startsWith('diag_')) x = diagValue(v);
      else x = codes.get(name)!.get(v)!;
      data[i * p + j] = x;
    }
    y[i] = r[target] === '<30' ? 1 : 0;
    groups[i] = Number(r[patient]);
  });
  return { X: { rows: rows.length, cols: p, data }, y, featureNames: features, groups };
}

/** Seeded split by group: every row of a group lands on the same side (about testFraction of the groups). */
export function groupSplit(groups: ArrayLike<number>, testFraction: number, seed: number): { train: Uint32Array; test: Uint32Array } {
  const unique = [...new Set(Array.from(groups))].sort((a, b) => a - b);
  let s = seed >>> 0 || 1;
  for (let i = unique.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = Math.floor((s / 4294967296) * (i + 1));
    [unique[i], unique[j]] = [unique[j], unique[i]];
  }
  const testGroups = new Set(unique.slice(0, Math.round(testFraction * unique.length)));
  const train: number[] = [];
  const test: number[] = [];
  for (let i = 0; i < groups.length; i++) (testGroups.has(groups[i]) ? test : train).push(i);
  return { train: Uint32Array.from(train), test: Uint32Array.from(test) };
}
