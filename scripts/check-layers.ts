// Checks the project's layering (docs/ARCHITECTURE.md): which module may import which, that only
// src/storage talks to MySQL and S3 through their clients (imports them, calls a pool's query,
// execute or getConnection), and that only the config modules read
// process.env. Prints every violation and exits 1 when there is one.
//
//   node scripts/check-layers.ts            check the repository
//   node scripts/check-layers.ts --table    print the allowed-imports table (the layer picture)
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The modules of src/ (a directory, or a single top-level file) and functions/, each with the
 * modules it may import (besides itself and the FOUNDATION, which every module may import). Read
 * bottom-up, this is the layer picture; the check also refuses a cycle in it.
 */
export const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  // Building blocks: no I/O besides storage, which is the only module that talks to MySQL and S3.
  metrics: [],
  dataset: ['metrics'],
  storage: ['dataset'],
  forest: [],
  boosting: ['forest'],
  linear: ['forest', 'boosting'],
  // The model families behind one interface, the artifact format and evaluation.
  model: ['dataset', 'metrics', 'forest', 'boosting', 'linear'],
  // Stateful services over storage.
  registry: ['dataset', 'metrics', 'storage'],
  serving: ['dataset', 'metrics', 'model', 'registry', 'storage'],
  'data-api': ['dataset', 'storage'],
  executions: [],
  statemachine: ['config'],
  // Watching the champion in production: prediction log, feedback, drift monitor, shadow challenger.
  monitoring: ['dataset', 'metrics', 'model', 'registry', 'serving', 'storage', 'statemachine'],
  // The pipeline's steps (one per state of the state machine).
  pipeline: ['dataset', 'metrics', 'model', 'registry', 'serving', 'storage', 'data-api', 'monitoring'],
  // Configuration: the one place (with functions/lib/context.ts) that reads process.env.
  config: [],
  errors: [],
  // The identifiers every boundary checks (dataset name, execution id, S3 keys, versions) and the zod → InvalidInput formatter.
  schemas: [],
  // Lambda handlers: parse, call domain code, shape the response. Never the embedded runtime.
  functions: ['config', 'dataset', 'metrics', 'model', 'registry', 'serving', 'storage', 'data-api', 'executions', 'statemachine', 'pipeline', 'monitoring'],
  // The embedded runtime (dev only, never deployed) runs the handlers in their own processes.
  embedded: ['config', 'storage', 'executions', 'statemachine'],
};

/** What every module may import: the named errors, and the shared schemas (which import only errors and zod). */
const FOUNDATION = new Set(['errors', 'schemas']);

/** Where process.env may be read: the config modules, and the embedded runtime that hands the functions their environment. */
const ENV_READERS = new Set(['src/config.ts', 'functions/lib/context.ts']);
const ENV_READING_MODULES = new Set(['embedded']);

/** Client libraries only src/storage may import (so every failure comes out as StorageUnavailable). */
const STORAGE_CLIENTS = ['mysql2', '@aws-sdk/client-s3'];

/** Directories whose code the check reads; tests, bench and localstack tooling may import anything. */
const CHECKED = ['src', 'functions', 'scripts'];

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...listTs(rel));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/** The module a repository-relative path belongs to, or null outside src/ and functions/. */
export function moduleOf(file: string): string | null {
  const parts = file.split('/');
  if (parts[0] === 'functions') return 'functions';
  if (parts[0] !== 'src') return null;
  return parts.length === 2 ? parts[1].replace(/\.ts$/, '') : parts[1];
}

const stripComments = (code: string): string => code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');

/** Every import specifier in the code: static imports and re-exports, side-effect imports, dynamic import(). */
export function importSpecifiers(code: string): string[] {
  const specs: string[] = [];
  const patterns = [/\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g];
  for (const re of patterns) for (const m of code.matchAll(re)) specs.push(m[1]);
  return specs;
}

/** The violations in one file (repository-relative path, source text). */
export function checkFile(file: string, source: string): string[] {
  const problems: string[] = [];
  const code = stripComments(source);
  const from = moduleOf(file);
  for (const spec of importSpecifiers(code)) {
    if (!spec.startsWith('.')) {
      if (STORAGE_CLIENTS.some((c) => spec === c || spec.startsWith(`${c}/`)) && !file.startsWith('src/storage/')) {
        problems.push(`${file}: imports ${spec}; go through src/storage (queryRows, execute, inTransaction, ArtifactStore)`);
      }
      continue;
    }
    const target = path
      .relative(root, path.resolve(root, path.dirname(file), spec))
      .split(path.sep)
      .join('/');
    if (file.startsWith('src/') && !target.startsWith('src/')) {
      problems.push(`${file}: imports ${target}; code in src/ imports nothing outside src/`);
      continue;
    }
    if (from === null) continue;
    const to = moduleOf(target);
    if (to === null) {
      problems.push(`${file}: imports ${target}, outside src/`);
      continue;
    }
    if (to === from || FOUNDATION.has(to)) continue;
    if (!(ALLOWED[from] ?? []).includes(to)) {
      problems.push(`${file}: ${from} may not import ${to} (${target}); allowed: ${(ALLOWED[from] ?? []).join(', ') || 'nothing'}`);
    }
  }
  if (!file.startsWith('src/storage/') && /\.(query|execute|getConnection)\s*[<(]/.test(code)) {
    problems.push(`${file}: calls a MySQL pool or connection directly; use queryRows, execute or inTransaction (src/storage/mysql.ts)`);
  }
  if (from !== null && !ENV_READERS.has(file) && !ENV_READING_MODULES.has(from) && /\bprocess\.env\b/.test(code)) {
    problems.push(`${file}: reads process.env; configuration comes from src/config.ts (functions: functions/lib/context.ts)`);
  }
  return problems;
}

/** A cycle in the allowed-imports table, as a path of module names, or null. */
export function tableCycle(table: Readonly<Record<string, readonly string[]>>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (m: string): string[] | null => {
    if (state.get(m) === 'done') return null;
    if (state.get(m) === 'open') return [...stack.slice(stack.indexOf(m)), m];
    state.set(m, 'open');
    stack.push(m);
    for (const next of table[m] ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(m, 'done');
    return null;
  };
  for (const m of Object.keys(table)) {
    const cycle = visit(m);
    if (cycle) return cycle;
  }
  return null;
}

function main(): void {
  if (process.argv.includes('--table')) {
    for (const [m, deps] of Object.entries(ALLOWED)) console.log(`${m.padEnd(13)} -> ${deps.join(', ') || '-'}`);
    return;
  }
  const problems: string[] = [];
  const cycle = tableCycle(ALLOWED);
  if (cycle) problems.push(`the layer table has a cycle: ${cycle.join(' -> ')}`);
  const modules = new Set(Object.keys(ALLOWED));
  let files = 0;
  for (const dir of CHECKED) {
    for (const file of listTs(dir)) {
      files++;
      const m = moduleOf(file);
      if (m !== null && !modules.has(m)) problems.push(`${file}: module ${m} is not in the layer table (scripts/check-layers.ts, docs/ARCHITECTURE.md)`);
      problems.push(...checkFile(file, readFileSync(path.join(root, file), 'utf8')));
    }
  }
  for (const p of problems) console.error(p);
  if (problems.length > 0) {
    console.error(`check:layers: ${problems.length} violation(s) in ${files} files`);
    process.exit(1);
  }
  console.log(`check:layers: ${files} files, no violations`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
