// Training benchmark: our random forest (src/forest) vs scikit-learn's RandomForestClassifier on
// the same Covertype rows, same split, same number of trees, max_features="sqrt", bootstrap.
//
//   node bench/train.ts [COVERTYPE_PATH] [--sizes 10000,100000,full] [--trees 100] [--workers N]
//
// Env: COVERTYPE_PATH, BENCH_SIZES, BENCH_TREES. Each side runs in a fresh process per size so
// the peak RSS is its own. Writes bench/results/train.json.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { predictBatch } from '../src/forest/batch.ts';
import { compactForest } from '../src/forest/compact.ts';
import { compileTrees, type CompileOptions } from '../src/forest/compiled.ts';
import { compilePredictor, trainForest, type ForestModel } from '../src/forest/index.ts';
import { decodeCompact, encodeCompact } from '../src/model/compact.ts';
import { covertypePath, loadCovertype, stratifiedSplit, takeRows, type Dataset } from './covertype.ts';
import { peakRssMb, readF64, writeF64 } from './io.ts';

const SEED = 42;
const PYTHON = '/usr/bin/python3';

interface SideResult {
  fit_s: number;
  predict_s: number;
  accuracy: number;
  peak_rss_mb: number;
  model_bytes: number;
  predict_row_ms?: number;
  nodes_per_tree?: number;
  [extra: string]: unknown;
}

interface SizeResult {
  rows: number;
  train_rows: number;
  test_rows: number;
  trees: number;
  cores: number;
  ours: SideResult;
  sklearn: SideResult;
}

function parseArgs(argv: string[]): { path: string; sizes: string[]; trees: number; workers: number; child?: string } {
  const out = {
    path: covertypePath(),
    sizes: (process.env.BENCH_SIZES ?? '10000,100000,full').split(','),
    trees: Number(process.env.BENCH_TREES ?? 100),
    workers: availableParallelism(),
    child: undefined as string | undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--sizes') out.sizes = argv[++i].split(',');
    else if (a === '--trees') out.trees = Number(argv[++i]);
    else if (a === '--workers') out.workers = Number(argv[++i]);
    else if (a === '--child') out.child = argv[++i];
    else if (a === '--help' || a === '-h') {
      console.log(
        'Usage: npm run bench:train [-- COVERTYPE_PATH] [--sizes 10000,100000,full] [--trees 100] [--workers N]\n' +
          'Env: COVERTYPE_PATH, BENCH_SIZES, BENCH_TREES. Writes bench/results/train.json.',
      );
      process.exit(0);
    } else if (!a.startsWith('--')) out.path = a;
    else throw new Error(`unknown option ${a}`);
  }
  if (!Number.isInteger(out.trees) || out.trees < 1) throw new Error('--trees must be a positive integer');
  return out;
}

/** JSON size of the model without building one giant string (V8 caps string length). */
function modelJsonBytes(model: ForestModel): number {
  let bytes = Buffer.byteLength(JSON.stringify({ ...model, trees: [] })) + Math.max(0, model.trees.length - 1);
  for (const t of model.trees) bytes += Buffer.byteLength(JSON.stringify(t));
  return bytes;
}

/** Child process: train and evaluate ours on the files in `dir`, print one JSON line. */
async function runChild(dir: string, trees: number, workers: number): Promise<void> {
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as { cols: number; train_rows: number; test_rows: number };
  const cols = meta.cols;
  const Xtr = readF64(join(dir, 'X_train.f64'));
  const ytr = readF64(join(dir, 'y_train.f64'));
  const Xte = readF64(join(dir, 'X_test.f64'));
  const yte = readF64(join(dir, 'y_test.f64'));
  const t0 = performance.now();
  const model = await trainForest(
    { rows: meta.train_rows, cols, data: Xtr },
    ytr,
    { task: 'classification', nEstimators: trees, maxFeatures: 'sqrt', bootstrap: true, seed: SEED },
    { workers },
  );
  const fit_s = (performance.now() - t0) / 1000;
  // The stored form: the binary model file (src/model/compact.ts), then loaded as predict loads it.
  const { trees: _trees, ...info } = model;
  const bytes = encodeCompact(compactForest(model), { forest: info }, '');
  const t1 = performance.now();
  const predictor = compileTrees(decodeCompact(bytes).trees);
  const load_ms = performance.now() - t1;
  // Batch: blocks of rows over worker threads taking chunks from a shared counter, as many threads
  // in all as sklearn's n_jobs (both sides get `workers` cores).
  const t2 = performance.now();
  const out = await predictBatch(predictor, Xte, meta.test_rows, { threads: workers });
  // The first call pays for starting the worker threads and compiling the walk; a second one does not.
  const predict_s = (performance.now() - t2) / 1000;
  const t2b = performance.now();
  await predictBatch(predictor, Xte, meta.test_rows, { threads: workers });
  const predict_again_s = (performance.now() - t2b) / 1000;
  let correct = 0;
  const w = predictor.nOutputs;
  for (let r = 0; r < meta.test_rows; r++) {
    let best = 0;
    for (let k = 1; k < w; k++) if (out[r * w + k] > out[r * w + best]) best = k;
    if (model.classes[best] === yte[r]) correct++;
  }
  // One row at a time (what one request costs), for the default layout and for each lever alone.
  const rowMs = (predictRow: (x: Float64Array) => unknown, n: number): number => {
    for (let r = 0; r < Math.min(n, 2000); r++) predictRow(Xte.subarray(r * cols, (r + 1) * cols));
    const t = performance.now();
    for (let r = 0; r < n; r++) predictRow(Xte.subarray(r * cols, (r + 1) * cols));
    return (performance.now() - t) / n;
  };
  const sample = Math.min(meta.test_rows, 20_000);
  const predict_row_ms = rowMs((x) => predictor.predictRow(x), meta.test_rows);
  const levers: Record<string, unknown>[] = [];
  const json = compilePredictor(model);
  levers.push({
    layout: 'JSON trees compiled (before): 16-byte nodes, float64 thresholds, siblings adjacent',
    node_bytes: 16,
    row_ms: rowMs((x) => json.predictProba(x), sample),
  });
  const variants: [string, CompileOptions][] = [
    ['quantised thresholds, 12-byte nodes, depth-first, one tree at a time', { wide: true, order: 'dfs', interleave: 1 }],
    ['quantised, 4-byte nodes, breadth-first (siblings adjacent), one tree at a time', { order: 'bfs', interleave: 1 }],
    ['quantised, 4-byte nodes, depth-first, one tree at a time', { order: 'dfs', interleave: 1 }],
    ['quantised, 4-byte nodes, depth-first, 16 trees at once', { order: 'dfs', interleave: 16 }],
    ['quantised, 4-byte nodes, cache-line blocks, one tree at a time', { order: 'blocks', interleave: 1 }],
    ['quantised, 4-byte nodes, cache-line blocks, 4 trees at once', { order: 'blocks', interleave: 4 }],
    ['quantised, 4-byte nodes, cache-line blocks, 8 trees at once', { order: 'blocks', interleave: 8 }],
    ['quantised, 4-byte nodes, cache-line blocks, 16 trees at once (default)', { interleave: 16 }],
    ['quantised, 4-byte nodes, cache-line blocks, 32 trees at once', { order: 'blocks', interleave: 32 }],
  ];
  const compact = decodeCompact(bytes).trees;
  for (const [layout, options] of variants) {
    const compiled = compileTrees(compact, options);
    levers.push({ layout, node_bytes: compiled.nodeBytes / compact.feature.length, row_ms: rowMs((x) => compiled.predictRow(x), sample) });
  }
  const t3 = performance.now();
  const single = new Float64Array(meta.test_rows * w);
  predictor.predictBlock(Xte, 0, meta.test_rows, single);
  const predict_block_one_thread_s = (performance.now() - t3) / 1000;
  // The test set on one thread for each block lever alone (the default: 16,384-row blocks, byte ranks).
  const blockLevers: Record<string, unknown>[] = [];
  const blockVariants: [string, CompileOptions][] = [
    ['1,024-row blocks', { blockRows: 1024 }],
    ['4,096-row blocks', { blockRows: 4096 }],
    ['16,384-row blocks (default)', {}],
    ['65,536-row blocks', { blockRows: 65_536 }],
    ['16,384-row blocks, 4-byte ranks', { byteRanks: false }],
  ];
  for (const [layout, options] of blockVariants) {
    const compiled = compileTrees(compact, options);
    const t = performance.now();
    compiled.predictBlock(Xte, 0, meta.test_rows, single);
    blockLevers.push({ layout, one_thread_s: (performance.now() - t) / 1000 });
  }
  const peak_rss_mb = peakRssMb();
  const nodes = model.trees.reduce((s, t) => s + t.feature.length, 0);
  const result: SideResult = {
    fit_s,
    predict_s,
    accuracy: correct / meta.test_rows,
    peak_rss_mb,
    model_bytes: bytes.length,
    model_format: 'mlops-trees binary (docs/MODEL-FORMAT.md)',
    model_json_bytes: modelJsonBytes(model),
    load_ms,
    predict_row_ms,
    predict_again_s,
    predict_block_one_thread_s,
    predict_threads: workers,
    levers,
    block_levers: blockLevers,
    nodes_per_tree: nodes / trees,
    oob_score: model.oobScore,
    workers,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function ensureSklearn(): void {
  if (spawnSync(PYTHON, ['-c', 'import sklearn'], { stdio: 'ignore' }).status === 0) return;
  console.error('scikit-learn missing: apt-get install -y python3-sklearn');
  let r = spawnSync('apt-get', ['install', '-y', 'python3-sklearn'], { stdio: 'inherit' });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit' });
    r = spawnSync('apt-get', ['install', '-y', 'python3-sklearn'], { stdio: 'inherit' });
  }
  if (r.status !== 0) throw new Error('could not install python3-sklearn');
}

/** Seeded subset of `size` rows ('full' = all). */
function subset(all: Dataset, size: string): Dataset {
  if (size === 'full') return all;
  const n = Number(size);
  if (!Number.isInteger(n) || n < 10) throw new Error(`bad size ${size}`);
  if (n >= all.X.rows) return all;
  const perm = Uint32Array.from({ length: all.X.rows }, (_, i) => i);
  let s = SEED;
  for (let i = perm.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = Math.floor((s / 4294967296) * (i + 1));
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  return takeRows(all, perm.subarray(0, n).sort());
}

const fmt = (v: number, d = 2): string => v.toFixed(d);

function table(results: SizeResult[]): string {
  const lines = [
    '| rows (train/test) | trees | fit s ours / sklearn (ratio) | predict s ours / sklearn | accuracy ours / sklearn (Δ pts) | peak RSS MB ours / sklearn (ratio) | model MB ours binary / sklearn pickle (ratio) | 1-row predict ms ours / sklearn |',
    '|---|---:|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    const o = r.ours;
    const s = r.sklearn;
    lines.push(
      `| ${r.rows.toLocaleString('en-US')} (${r.train_rows.toLocaleString('en-US')}/${r.test_rows.toLocaleString('en-US')}) | ${r.trees} ` +
        `| ${fmt(o.fit_s)} / ${fmt(s.fit_s)} (${fmt(o.fit_s / s.fit_s)}) ` +
        `| ${fmt(o.predict_s)} / ${fmt(s.predict_s)} ` +
        `| ${fmt(o.accuracy, 4)} / ${fmt(s.accuracy, 4)} (${fmt((o.accuracy - s.accuracy) * 100)}) ` +
        `| ${fmt(o.peak_rss_mb, 0)} / ${fmt(s.peak_rss_mb, 0)} (${fmt(o.peak_rss_mb / s.peak_rss_mb)}) ` +
        `| ${fmt(o.model_bytes / 1e6, 1)} / ${fmt(s.model_bytes / 1e6, 1)} (${fmt(o.model_bytes / s.model_bytes)}) ` +
        `| ${fmt(o.predict_row_ms ?? NaN, 4)} / ${fmt(s.predict_row_ms ?? NaN, 2)} |`,
    );
  }
  for (const r of results) {
    lines.push(
      '',
      `${r.rows.toLocaleString('en-US')} rows: model file load ${fmt(Number(r.ours.load_ms), 0)} ms; test set again ${fmt(Number(r.ours.predict_again_s))} s, on one thread ${fmt(Number(r.ours.predict_block_one_thread_s))} s; one-row latency by layout (ms):`,
    );
    for (const l of (r.ours.levers ?? []) as { layout: string; node_bytes: number; row_ms: number }[]) lines.push(`  ${fmt(l.row_ms, 4)}  ${l.layout}`);
    lines.push('test set on one thread by block lever (s):');
    for (const l of (r.ours.block_levers ?? []) as { layout: string; one_thread_s: number }[]) lines.push(`  ${fmt(l.one_thread_s, 3)}  ${l.layout}`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.child) {
    await runChild(args.child, args.trees, args.workers);
    return;
  }
  ensureSklearn();
  const self = fileURLToPath(import.meta.url);
  const sklearnScript = fileURLToPath(new URL('./sklearn_train.py', import.meta.url));
  console.error(`loading ${args.path}`);
  const all = loadCovertype(args.path);
  const results: SizeResult[] = [];
  for (const size of args.sizes) {
    const ds = subset(all, size);
    const split = stratifiedSplit(ds.y, 0.2, SEED);
    const train = takeRows(ds, split.train);
    const test = takeRows(ds, split.test);
    const dir = mkdtempSync(join(tmpdir(), 'forest-bench-'));
    try {
      writeF64(join(dir, 'X_train.f64'), train.X.data);
      writeF64(join(dir, 'y_train.f64'), train.y);
      writeF64(join(dir, 'X_test.f64'), test.X.data);
      writeF64(join(dir, 'y_test.f64'), test.y);
      writeFileSync(join(dir, 'meta.json'), JSON.stringify({ cols: train.X.cols, train_rows: train.X.rows, test_rows: test.X.rows }));
      console.error(`${ds.X.rows} rows (${train.X.rows} train / ${test.X.rows} test), ${args.trees} trees: sklearn...`);
      const skOut = execFileSync(PYTHON, [sklearnScript, dir, String(args.trees), String(args.workers), String(SEED)], {
        encoding: 'utf8',
        maxBuffer: 1 << 20,
      });
      const sklearn = JSON.parse(skOut.trim().split('\n').pop()!) as SideResult;
      console.error(`  sklearn fit ${fmt(sklearn.fit_s)} s, accuracy ${fmt(sklearn.accuracy, 4)}; ours...`);
      const ourOut = execFileSync(process.execPath, [self, '--child', dir, '--trees', String(args.trees), '--workers', String(args.workers)], {
        encoding: 'utf8',
        maxBuffer: 1 << 20,
      });
      const ours = JSON.parse(ourOut.trim().split('\n').pop()!) as SideResult;
      console.error(`  ours fit ${fmt(ours.fit_s)} s, accuracy ${fmt(ours.accuracy, 4)}`);
      results.push({
        rows: ds.X.rows,
        train_rows: train.X.rows,
        test_rows: test.X.rows,
        trees: args.trees,
        cores: args.workers,
        ours,
        sklearn,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const outPath = fileURLToPath(new URL('./results/train.json', import.meta.url));
  writeFileSync(outPath, `${JSON.stringify(results, null, 2)}\n`);
  console.log(table(results));
  console.error(`wrote ${outPath}`);
}

await main();
