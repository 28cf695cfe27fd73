// Gradient-boosting benchmark: our histogram boosting (src/boosting) against scikit-learn's
// HistGradientBoostingClassifier and XGBoost (tree_method="hist") on the same rows, the same
// split, the same settings (iterations, leaves, learning rate, bins, min rows per leaf, no L2,
// no early stopping) and the same number of threads, one run each.
//
//   node bench/boost.ts [--datasets covertype,diabetes] [--rows N] [--iterations 100] [--leaves 31]
//                       [--lr 0.1] [--bins 255] [--min-leaf 20] [--workers N] [--sides ours,sklearn_hgb,xgboost]
//                       [--out bench/results/boost.json] [--from-source] [--repeats 3]
//
// Ours runs the compiled learner (dist/, `npm run bench:boost` builds it first; see learnerModule),
// or with --from-source the TypeScript sources. The defaults are the full run. For a quick comparison while working, e.g.
//   npm run bench:boost -- --datasets diabetes --sides ours,xgboost --out bench/results/boost-quick.json
//
// Covertype: all rows of ../shared/data/covertype (457,035 of the 581,012 UCI rows; multiclass), stratified 80/20 split. Diabetes: 101,766 encounters,
// binary "<30 days readmission", 80/20 split grouped by patient_nbr (bench/diabetes.ts encodes it).
// Each side runs in a fresh process so its peak RSS is its own; every side writes its test-set
// probabilities and this script scores them all with the same code (src/metrics). Ours predicts the
// test set as the pipeline does (binary model file, compileTrees, predictBatch: see FIT_IN_WORKER).
// Writes bench/results/boost.json. Missing python3-sklearn / python3-xgboost are installed with apt.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { compileBoosting, type BoostingModel, type BoostingParams } from '../src/boosting/index.ts';
import { aurocOvR } from '../src/metrics/index.ts';
import { covertypePath, loadCovertype, stratifiedSplit, takeRows, type Dataset } from './covertype.ts';
import { diabetesPath, groupSplit, loadDiabetes } from './diabetes.ts';
import { median, peakRssMb, readF64, writeF64 } from './io.ts';

const SEED = 42;
const PYTHON = '/usr/bin/python3';
const SIDES = ['ours', 'sklearn_hgb', 'xgboost'] as const;
type Side = (typeof SIDES)[number];

interface Settings {
  iterations: number;
  leaves: number;
  lr: number;
  bins: number;
  minLeaf: number;
  workers: number;
  /** Rounds: every side fits once per round, the sides' order rotating from round to round. */
  repeats: number;
}

/** What each side's process measures itself. */
interface Measured {
  fit_s: number;
  /** CPU seconds of the whole process (all threads) during fit: steadier than fit_s on a shared machine. */
  fit_cpu_s: number;
  predict_s: number;
  peak_rss_mb: number;
  model_bytes: number;
  [extra: string]: unknown;
}

interface SideResult extends Measured {
  accuracy: number;
  auroc: number;
  average_precision: number | null;
  /** Each round's fit wall and CPU seconds (fit_s, fit_cpu_s and predict_s are their medians; peak RSS the largest). */
  fit_s_runs: number[];
  fit_cpu_s_runs: number[];
}

interface DatasetResult {
  dataset: string;
  rows: number;
  train_rows: number;
  test_rows: number;
  task: 'binary' | 'multiclass';
  classes: number;
  settings: Settings;
  load_avg_1m: [number, number];
  /**
   * Ours' fit wall time over the fastest peer's of the same round (the rounds' median and range):
   * the machine's speed drifts between rounds, the sides of one round run back to back.
   */
  fit_ratio?: { median: number; min: number; max: number; rounds: number[] };
  ours?: SideResult;
  sklearn_hgb?: SideResult;
  xgboost?: SideResult;
}

const DEFAULT_OUT = fileURLToPath(new URL('./results/boost.json', import.meta.url));

function parseArgs(argv: string[]): Settings & { datasets: string[]; rows: number; sides: Side[]; out: string; child?: string; fromSource: boolean } {
  const out = {
    datasets: ['covertype', 'diabetes'],
    rows: Infinity,
    iterations: 100,
    leaves: 31,
    lr: 0.1,
    bins: 255,
    minLeaf: 20,
    workers: availableParallelism(),
    repeats: 3,
    sides: [...SIDES] as Side[],
    out: DEFAULT_OUT,
    child: undefined as string | undefined,
    fromSource: false,
  };
  const num = (name: string, v: string | undefined, int: boolean): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0 || (int && !Number.isInteger(n))) throw new Error(`${name} needs a positive ${int ? 'integer' : 'number'}, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--datasets') out.datasets = argv[++i].split(',');
    else if (a === '--rows') out.rows = num(a, argv[++i], true);
    else if (a === '--iterations') out.iterations = num(a, argv[++i], true);
    else if (a === '--leaves') out.leaves = num(a, argv[++i], true);
    else if (a === '--lr') out.lr = num(a, argv[++i], false);
    else if (a === '--bins') out.bins = num(a, argv[++i], true);
    else if (a === '--min-leaf') out.minLeaf = num(a, argv[++i], true);
    else if (a === '--workers') out.workers = num(a, argv[++i], true);
    else if (a === '--repeats') out.repeats = num(a, argv[++i], true);
    else if (a === '--sides') out.sides = argv[++i].split(',') as Side[];
    else if (a === '--out') out.out = argv[++i];
    else if (a === '--child') out.child = argv[++i];
    else if (a === '--from-source') out.fromSource = true;
    else throw new Error(`unknown option ${a}`);
  }
  for (const d of out.datasets) if (d !== 'covertype' && d !== 'diabetes') throw new Error(`unknown dataset ${d}`);
  for (const s of out.sides) if (!SIDES.includes(s)) throw new Error(`unknown side ${s}`);
  return out;
}

interface Meta {
  cols: number;
  classes: number;
  train_rows: number;
  test_rows: number;
}

/**
 * The directory of the modules the child fits and predicts with (src/ or dist/src/, see learnerModule).
 */
function libraryDir(fromSource: boolean): string {
  return new URL(fromSource ? '../src/' : '../dist/src/', import.meta.url).href;
}

/**
 * The learner the child fits with. Node's own TypeScript stripping runs WebAssembly whose growing
 * memory detaches an ArrayBuffer, and from then on V8 checks every typed-array access of optimized
 * code in that thread for a detached buffer: about 40 % more time in the histogram loops.
 * Production runs the compiled JavaScript (`npm run build`), so by default the fit runs in a worker
 * thread that loads only that (`--from-source`: the TypeScript sources, as before).
 */
function learnerModule(fromSource: boolean): string {
  if (fromSource) return new URL('../src/boosting/index.ts', import.meta.url).href;
  for (const dir of ['boosting', 'forest', 'model']) {
    const src = fileURLToPath(new URL(`../src/${dir}/`, import.meta.url));
    for (const f of readdirSync(src).filter((n) => n.endsWith('.ts'))) {
      const built = fileURLToPath(new URL(`../dist/src/${dir}/${f.replace(/\.ts$/, '.js')}`, import.meta.url));
      if (!existsSync(built) || statSync(built).mtimeMs < statSync(join(src, f)).mtimeMs) {
        throw new Error(`${built} is missing or older than its source: run \`npm run build\` (or pass --from-source)`);
      }
    }
  }
  return new URL('../dist/src/boosting/index.js', import.meta.url).href;
}

// The fit, then the test set's prediction as the pipeline makes it, in a worker thread that loads
// nothing but the library's modules (CommonJS: an eval worker). Prediction: the binary model file
// (the boosting artifact's bytes: compact trees, the model's description as metadata; the pipeline's
// artifact adds the dataset spec), read back and compiled as LoadedModel does (load_s), then
// predictBatch over the threads and the link of LoadedModel.probabilitiesAt (predict_s).
const FIT_IN_WORKER = `
const { parentPort, workerData: w } = require('node:worker_threads');
const lib = (path) => import(new URL(path, w.lib).href);
(async () => {
  const { trainBoosting } = await import(w.module);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const model = await trainBoosting(w.X, w.y, w.params, w.options);
  const cpu = process.cpuUsage(c0);
  const fit = { fit_s: (performance.now() - t0) / 1000, fit_cpu_s: (cpu.user + cpu.system) / 1e6 };
  const [{ compactBoosting }, { encodeCompact, decodeCompact }, { compileTrees }, { predictBatch }, { sigmoid, softmaxInto }] = await Promise.all(
    ['boosting/compact', 'model/compact', 'forest/compiled', 'forest/batch', 'boosting/objective'].map((m) => lib(m + w.ext)),
  );
  const { trees: _trees, ...info } = model;
  const bytes = encodeCompact(compactBoosting(model), { format: 'mlops-model/2', family: 'boosting', boosting: info }, '0'.repeat(64));
  const t1 = performance.now();
  const predictor = compileTrees(decodeCompact(bytes).trees);
  const load_s = (performance.now() - t1) / 1000;
  // The pipeline encodes a batch's rows straight into shared memory (LoadedModel.encodeRows).
  const x = new Float64Array(new SharedArrayBuffer(w.Xte.byteLength));
  x.set(w.Xte);
  const K = w.classes;
  const t2 = performance.now();
  const c2 = process.cpuUsage();
  const raw = await predictBatch(predictor, x, w.testRows, { threads: w.options.workers });
  const proba = new Float64Array(w.testRows * K);
  const p = new Float64Array(K);
  for (let r = 0; r < w.testRows; r++) {
    if (model.objective === 'binary') {
      const q = sigmoid(raw[r]);
      proba[r * K] = 1 - q;
      proba[r * K + 1] = q;
    } else {
      softmaxInto(raw, r * K, K, p);
      proba.set(p, r * K);
    }
  }
  const cpu2 = process.cpuUsage(c2);
  const predict = { predict_s: (performance.now() - t2) / 1000, predict_cpu_s: (cpu2.user + cpu2.system) / 1e6, load_s, model_bytes: bytes.length };
  parentPort.postMessage({ model, proba, ...fit, ...predict });
})();`;

/** What the fit worker measures (see FIT_IN_WORKER). */
interface OursMeasured {
  model: BoostingModel;
  proba: Float64Array;
  fit_s: number;
  fit_cpu_s: number;
  load_s: number;
  predict_s: number;
  predict_cpu_s: number;
  model_bytes: number;
}

/** Test rows whose batch probabilities are compared with the row-by-row predictor's. */
const CHECKED_ROWS = 5000;

/** Child process: train ours on the files in `dir`, write its test probabilities, print one JSON line. */
async function runChild(dir: string, s: Settings, fromSource: boolean): Promise<void> {
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Meta;
  const Xtr = readF64(join(dir, 'X_train.f64'));
  const ytr = readF64(join(dir, 'y_train.f64'));
  const Xte = readF64(join(dir, 'X_test.f64'));
  const params: BoostingParams = {
    task: 'classification',
    nEstimators: s.iterations,
    learningRate: s.lr,
    maxLeaves: s.leaves,
    minSamplesLeaf: s.minLeaf,
    minHessianLeaf: 1e-3,
    l2: 0,
    maxBins: s.bins,
    seed: SEED,
  };
  const workerData = {
    module: learnerModule(fromSource),
    lib: libraryDir(fromSource),
    ext: fromSource ? '.ts' : '.js',
    Xte,
    testRows: meta.test_rows,
    classes: meta.classes,
    X: { rows: meta.train_rows, cols: meta.cols, data: Xtr },
    y: ytr,
    params,
    options: { workers: s.workers },
  };
  const { model, proba, ...measured } = await new Promise<OursMeasured>((resolve, reject) => {
    const w = new Worker(FIT_IN_WORKER, { eval: true, workerData, transferList: [Xtr.buffer as ArrayBuffer, ytr.buffer as ArrayBuffer] });
    w.once('message', resolve);
    w.once('error', reject);
  });
  // The batch path gives the reference (row by row, JSON trees) predictor's probabilities, bit for bit.
  const reference = compileBoosting(model);
  for (let r = 0; r < Math.min(meta.test_rows, CHECKED_ROWS); r++) {
    const expected = reference.predictProba(Xte.subarray(r * meta.cols, (r + 1) * meta.cols));
    for (let k = 0; k < meta.classes; k++) {
      if (proba[r * meta.classes + k] !== expected[k])
        throw new Error(`test row ${r}: batch probability ${proba[r * meta.classes + k]}, row by row ${expected[k]}`);
    }
  }
  writeF64(join(dir, 'proba_ours.f64'), proba);
  process.stdout.write(
    `${JSON.stringify({ ...measured, peak_rss_mb: peakRssMb(), model_format: 'compact binary', threads: s.workers, iterations: model.nIterations, code: fromSource ? 'source' : 'build' })}\n`,
  );
}

function ensurePython(module: string, pkg: string): void {
  if (spawnSync(PYTHON, ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0) return;
  console.error(`${module} missing: apt-get install -y ${pkg}`);
  const install = (): number | null =>
    spawnSync('apt-get', ['install', '-y', '-o', 'DPkg::Lock::Timeout=600', pkg], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    }).status;
  if (install() !== 0) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit' });
    if (install() !== 0) throw new Error(`could not install ${pkg}`);
  }
}

/** Average precision (area under the precision-recall curve, step-wise as scikit-learn). */
function averagePrecision(yTrue: ArrayLike<number>, score: ArrayLike<number>): number {
  const order = Array.from({ length: yTrue.length }, (_, i) => i).sort((a, b) => score[b] - score[a]);
  let positives = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === 1) positives++;
  if (positives === 0) return Number.NaN;
  let tp = 0;
  let fp = 0;
  let ap = 0;
  let prevRecall = 0;
  for (let i = 0; i < order.length; ) {
    // All rows sharing a score form one threshold.
    const s = score[order[i]];
    while (i < order.length && score[order[i]] === s) {
      if (yTrue[order[i]] === 1) tp++;
      else fp++;
      i++;
    }
    const recall = tp / positives;
    ap += (recall - prevRecall) * (tp / (tp + fp));
    prevRecall = recall;
  }
  return ap;
}

function score(yTest: Float64Array, proba: Float64Array, k: number): Pick<SideResult, 'accuracy' | 'auroc' | 'average_precision'> {
  const n = yTest.length;
  const rows: Float64Array[] = [];
  let correct = 0;
  for (let r = 0; r < n; r++) {
    const p = proba.subarray(r * k, (r + 1) * k);
    rows.push(p);
    let best = 0;
    for (let j = 1; j < k; j++) if (p[j] > p[best]) best = j;
    if (best === yTest[r]) correct++;
  }
  const classes = Array.from({ length: k }, (_, j) => j);
  return {
    accuracy: correct / n,
    auroc: aurocOvR(yTest, rows, classes).macro,
    average_precision:
      k === 2
        ? averagePrecision(
            yTest,
            rows.map((p) => p[1]),
          )
        : null,
  };
}

/** Seeded subset of n rows (all when n >= rows). */
function subset<T extends Dataset>(ds: T, n: number, take: (ds: T, idx: Uint32Array) => T): T {
  if (!(n < ds.X.rows)) return ds;
  const perm = Uint32Array.from({ length: ds.X.rows }, (_, i) => i);
  let s = SEED;
  for (let i = perm.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = Math.floor((s / 4294967296) * (i + 1));
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  return take(ds, perm.subarray(0, n).sort());
}

function prepare(name: string, rows: number): { train: Dataset; test: Dataset; all: number } {
  if (name === 'covertype') {
    console.error(`loading ${covertypePath()}`);
    const ds = subset(loadCovertype(), rows, takeRows);
    // Labels 1..7 become class indices 0..6.
    const y = Float64Array.from(ds.y, (v) => v - 1);
    const split = stratifiedSplit(y, 0.2, SEED);
    const indexed = { ...ds, y };
    return { train: takeRows(indexed, split.train), test: takeRows(indexed, split.test), all: ds.X.rows };
  }
  console.error(`loading ${diabetesPath()}`);
  const ds = subset(loadDiabetes(), rows, (d, idx) => ({ ...takeRows(d, idx), groups: Float64Array.from(idx, (i) => d.groups[i]) }));
  const split = groupSplit(ds.groups, 0.2, SEED);
  return { train: takeRows(ds, split.train), test: takeRows(ds, split.test), all: ds.X.rows };
}

const fmt = (v: number | null | undefined, d = 2): string => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d));

function table(results: DatasetResult[]): string {
  const lines = [
    '| dataset (train/test rows) | side | fit s | fit CPU s | predict s | accuracy | AUROC | avg precision | peak RSS MB | model MB |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    for (const side of SIDES) {
      const s = r[side];
      if (!s) continue;
      lines.push(
        `| ${r.dataset} (${r.train_rows.toLocaleString('en-US')}/${r.test_rows.toLocaleString('en-US')}) | ${side} | ${fmt(s.fit_s)} | ${fmt(s.fit_cpu_s)} | ${fmt(s.predict_s)} ` +
          `| ${fmt(s.accuracy, 4)} | ${fmt(s.auroc, 4)} | ${fmt(s.average_precision, 4)} | ${fmt(s.peak_rss_mb, 0)} | ${fmt(s.model_bytes / 1e6, 2)} |`,
      );
    }
  }
  return lines.join('\n');
}

/** The sides in the order of round r: rotated by r, so that no side always runs first. */
function rotate<T>(items: T[], r: number): T[] {
  const k = r % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** Each side's rounds into one result (medians of the times, the largest peak RSS), and the paired fit ratio. */
function summarize(entry: DatasetResult, runs: Map<Side, SideResult[]>): void {
  for (const [side, results] of runs) {
    const [first] = results;
    // The learners are deterministic: every round's test predictions, hence scores, are the same.
    for (const r of results) {
      if (r.accuracy !== first.accuracy || r.auroc !== first.auroc) throw new Error(`${side}: rounds scored differently`);
    }
    entry[side] = {
      ...first,
      fit_s: median(results.map((r) => r.fit_s)),
      fit_cpu_s: median(results.map((r) => r.fit_cpu_s)),
      predict_s: median(results.map((r) => r.predict_s)),
      peak_rss_mb: Math.max(...results.map((r) => r.peak_rss_mb)),
      fit_s_runs: results.map((r) => r.fit_s),
      fit_cpu_s_runs: results.map((r) => r.fit_cpu_s),
    };
  }
  const ours = runs.get('ours');
  const peers = [...runs].filter(([side]) => side !== 'ours').map(([, results]) => results);
  if (!ours || peers.length === 0) return;
  const rounds = ours.map((r, i) => r.fit_s / Math.min(...peers.map((p) => p[i].fit_s)));
  entry.fit_ratio = { median: median(rounds), min: Math.min(...rounds), max: Math.max(...rounds), rounds };
}

/** The goals, as ratios against the peers measured in the same run. */
function goals(r: DatasetResult): string {
  const ours = r.ours;
  const peers = [r.sklearn_hgb, r.xgboost].filter((s): s is SideResult => s !== undefined);
  if (!ours || peers.length === 0) return `${r.dataset}: no peer to compare with`;
  const fastest = Math.min(...peers.map((p) => p.fit_s));
  const leanest = Math.min(...peers.map((p) => p.fit_cpu_s));
  const quality = (s: SideResult): number => (r.task === 'multiclass' ? s.accuracy : s.auroc);
  const best = Math.max(...peers.map(quality));
  const paired = r.fit_ratio;
  return (
    `${r.dataset}: fit ours/fastest peer = ${fmt(ours.fit_s / fastest)} (medians of ${ours.fit_s_runs.length} rounds; goal <= 1, aim 0.5), ` +
    (paired ? `paired by round ${fmt(paired.median)} [${fmt(paired.min)}–${fmt(paired.max)}], ` : '') +
    `in CPU time ${fmt(ours.fit_cpu_s / leanest)}; ` +
    `${r.task === 'multiclass' ? 'accuracy' : 'AUROC'} ours - best peer = ${fmt((quality(ours) - best) * 100)} points (goal >= -0.3); ` +
    `peak RSS ${fmt(ours.peak_rss_mb, 0)} MB (goal < 4096)`
  );
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.child) {
    await runChild(args.child, args, args.fromSource);
    return;
  }
  // boost_peers.py imports sklearn_train.py (its RSS measurement), which imports sklearn: both peers need it.
  if (args.sides.some((s) => s !== 'ours')) ensurePython('sklearn', 'python3-sklearn');
  if (args.sides.includes('xgboost')) ensurePython('xgboost', 'python3-xgboost');
  const started = performance.now();
  const self = fileURLToPath(import.meta.url);
  const peerScript = fileURLToPath(new URL('./boost_peers.py', import.meta.url));
  const results: DatasetResult[] = [];
  for (const name of args.datasets) {
    const { train, test, all } = prepare(name, args.rows);
    const k = train.y.reduce((m, v) => Math.max(m, v), 0) + 1;
    const dir = mkdtempSync(join(tmpdir(), 'boost-bench-'));
    const loadBefore = loadavg()[0];
    const entry: DatasetResult = {
      dataset: name,
      rows: all,
      train_rows: train.X.rows,
      test_rows: test.X.rows,
      task: k === 2 ? 'binary' : 'multiclass',
      classes: k,
      settings: {
        iterations: args.iterations,
        leaves: args.leaves,
        lr: args.lr,
        bins: args.bins,
        minLeaf: args.minLeaf,
        workers: args.workers,
        repeats: args.repeats,
      },
      load_avg_1m: [loadBefore, 0],
    };
    try {
      writeF64(join(dir, 'X_train.f64'), train.X.data);
      writeF64(join(dir, 'y_train.f64'), train.y);
      writeF64(join(dir, 'X_test.f64'), test.X.data);
      const meta: Meta = { cols: train.X.cols, classes: k, train_rows: train.X.rows, test_rows: test.X.rows };
      writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta));
      const runs = new Map<Side, SideResult[]>(args.sides.map((side) => [side, []]));
      for (let round = 0; round < args.repeats; round++) {
        for (const side of rotate(args.sides, round)) {
          console.error(`${name}: ${train.X.rows} train / ${test.X.rows} test rows, ${side} (round ${round + 1}/${args.repeats})...`);
          const out =
            side === 'ours'
              ? execFileSync(
                  process.execPath,
                  [
                    self,
                    '--child',
                    dir,
                    '--iterations',
                    String(args.iterations),
                    '--leaves',
                    String(args.leaves),
                    '--lr',
                    String(args.lr),
                    '--bins',
                    String(args.bins),
                    '--min-leaf',
                    String(args.minLeaf),
                    '--workers',
                    String(args.workers),
                    ...(args.fromSource ? ['--from-source'] : []),
                  ],
                  { encoding: 'utf8', maxBuffer: 1 << 20 },
                )
              : execFileSync(
                  PYTHON,
                  [
                    peerScript,
                    dir,
                    side,
                    String(args.iterations),
                    String(args.leaves),
                    String(args.lr),
                    String(args.bins),
                    String(args.minLeaf),
                    String(args.workers),
                    String(SEED),
                  ],
                  { encoding: 'utf8', maxBuffer: 1 << 20, env: { ...process.env, OMP_NUM_THREADS: String(args.workers) } },
                );
          const measured = JSON.parse(out.trim().split('\n').pop()!) as Measured;
          const result: SideResult = {
            ...measured,
            ...score(test.y, readF64(join(dir, `proba_${side}.f64`)), k),
            fit_s_runs: [measured.fit_s],
            fit_cpu_s_runs: [measured.fit_cpu_s],
          };
          runs.get(side)!.push(result);
          console.error(
            `  fit ${fmt(result.fit_s)} s (CPU ${fmt(result.fit_cpu_s)} s), accuracy ${fmt(result.accuracy, 4)}, AUROC ${fmt(result.auroc, 4)}, peak RSS ${fmt(result.peak_rss_mb, 0)} MB`,
          );
        }
      }
      summarize(entry, runs);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    entry.load_avg_1m[1] = loadavg()[0];
    results.push(entry);
  }
  const outPath = args.out;
  writeFileSync(outPath, `${JSON.stringify(results, null, 2)}\n`);
  console.log(table(results));
  for (const r of results) console.log(goals(r));
  console.error(
    `wrote ${outPath} in ${fmt((performance.now() - started) / 1000, 0)} s (load average before/after each dataset: ${results.map((r) => r.load_avg_1m.map((v) => v.toFixed(1)).join('/')).join(', ')})`,
  );
}

await main();
