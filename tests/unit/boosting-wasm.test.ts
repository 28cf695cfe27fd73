import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { HistogramPool } from '../../src/forest/histogram.ts';
import { accumulateRows, CHANNELS, denseRuns, featureLayout, type FeatureLayout } from '../../src/boosting/histograms.ts';
import { binaryLogLoss } from '../../src/boosting/objective.ts';
import { type GradientArrays, partitionRows, searchLeafInto, type SplitWork, updateGradients } from '../../src/boosting/parallel.ts';
import { readSplit, SPLIT_FIELDS } from '../../src/boosting/splits.ts';
import { exp } from '../../src/boosting/exp.ts';
import { histKernels, WasmArena } from '../../src/boosting/wasm/arena.ts';
import { generatedModule, watSources } from '../../scripts/build-wasm.ts';
import { lcg } from '../helpers/synthetic.ts';

describe('boosting: WebAssembly kernels', () => {
  it('every generated module holds the bytes of its .wat source (npm run build:wasm)', async () => {
    const sources = watSources();
    assert.ok(sources.includes('src/boosting/wasm/histograms.wat'), `sources ${sources}`);
    for (const wat of sources) {
      const { file, text } = await generatedModule(wat);
      assert.equal(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8'), text, `${file} is out of date: npm run build:wasm`);
    }
  });

  it('arena arrays do not overlap, stay valid when the memory grows, and are shared by a second arena over the memory', () => {
    const arena = new WasmArena();
    const a = arena.f64(3);
    a.set([1.5, -2, 3]);
    const b = arena.i32(5);
    b.fill(7);
    // Larger than the memory: it grows.
    const big = arena.u8(3 * 65_536);
    big.fill(255);
    const other = new WasmArena(arena.memory);
    const c = other.f32(4);
    c.fill(9);
    assert.deepEqual(Array.from(a), [1.5, -2, 3]);
    assert.deepEqual(Array.from(b), [7, 7, 7, 7, 7]);
    assert.ok(big.every((v) => v === 255));
    const spans = [a, b, big, c].map((x) => [x.byteOffset, x.byteOffset + x.byteLength]).sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < spans.length; i++) assert.ok(spans[i][0] >= spans[i - 1][1], `overlap ${JSON.stringify(spans)}`);
    assert.ok(arena.owns(a) && arena.owns(big.subarray(10)));
    assert.ok(!arena.owns(new Float64Array(3)));
  });

  it('the kernels sum the same histograms as the JavaScript kernels, bit for bit', () => {
    const rand = lcg(71);
    const n = 3001;
    // Dense columns of many bins (alone), bundled few-bin ones, sparse flags and a mostly-one-bin
    // feature with missing values (sparse, several entries a row).
    const p = 12;
    const nBins = Int32Array.of(200, 37, 3, 4, 2, 5, 2, 2, 6, 2, 90, 3);
    const rowBins = new Uint8Array(n * p);
    for (let r = 0; r < n; r++) {
      for (let f = 0; f < p; f++) {
        const sparse = f === 4 || f === 6 || f === 7 || f === 9;
        rowBins[r * p + f] = sparse ? (rand() < 0.07 ? nBins[f] - 1 : 0) : Math.floor(rand() * nBins[f]);
      }
    }
    const binCounts = new Int32Array(p * 256);
    for (let k = 0; k < n * p; k++) binCounts[(k % p) * 256 + rowBins[k]]++;
    // A node's rows in a partitioned (not ascending) order; gradients over many orders of magnitude,
    // so that any other order of the additions would change the sums.
    const idx = Int32Array.from(Array.from({ length: n }, (_, r) => r).filter(() => rand() < 0.7)).sort((x, y) => ((x * 7919) % 613) - ((y * 7919) % 613));
    const m = idx.length;
    const gh = Float32Array.from({ length: 2 * n }, (_, i) => (i % 2 === 0 ? rand() - 0.5 : rand()) * 10 ** (12 * rand() - 6));

    const arena = new WasmArena();
    const inJs = featureLayout({ nRows: n, rowBins, nBins, binCounts }, (b) => new ArrayBuffer(b));
    const inWasm = featureLayout({ nRows: n, rowBins, nBins, binCounts }, (b) => new ArrayBuffer(b), undefined, undefined, arena);
    assert.equal(inJs.memory, null);
    assert.equal(inWasm.memory, arena.memory);
    assert.ok(inJs.sparseFeature.length > 0 && inJs.bundleFeature.length > 0, 'sparse and bundled features');
    const sum = (layout: FeatureLayout, columns: number[], counted: boolean, odd: number): Float64Array => {
      const featOff = new HistogramPool(layout.histBins, CHANNELS).featOff;
      const size = featOff[featOff.length - 1];
      const mk = <T extends Float64Array | Float32Array | Int32Array>(make: (k: number) => T, from: ArrayLike<number>): T => {
        const a = make(from.length);
        a.set(from);
        return a;
      };
      const wasm = layout.memory !== null;
      const rows = {
        ...layout,
        idx: wasm ? mk((k) => arena.i32(k), idx) : idx,
        ghRow: wasm ? mk((k) => arena.f32(k), gh) : gh,
        runs: new Int32Array(64),
      };
      const nRuns = denseRuns(columns, rows.runs);
      const hist = wasm ? arena.f64(size + 3) : new Float64Array(size + 3);
      hist.fill(Number.NaN);
      // Rows [odd, m): an odd or even count, so that both row-pair loops' ends are taken.
      accumulateRows(hist, 3, size, featOff, rows, nRuns, true, odd, m, counted);
      return hist.slice(3);
    };
    const all = Array.from(inJs.denseFeature, (_, c) => c);
    // Every dense column (one run), and every other one (one run per column).
    for (const columns of [all, all.filter((c) => c % 2 === 0)]) {
      for (const counted of [true, false]) {
        for (const odd of [0, 1]) {
          const js = sum(inJs, columns, counted, odd);
          const wasm = sum(inWasm, columns, counted, odd);
          assert.ok(js.some((v) => v !== 0));
          assert.deepEqual(wasm, js, `columns ${columns}, counted ${counted}, from ${odd}`);
        }
      }
    }
  });

  it('the partition kernel moves the same rows as the JavaScript one', () => {
    const rand = lcg(72);
    const n = 5000;
    const arena = new WasmArena();
    const bins = arena.u8(3 * n);
    for (let i = 0; i < bins.length; i++) bins[i] = Math.floor(rand() * 256);
    const goLeft = arena.u8(256);
    for (let b = 0; b < 256; b++) goLeft[b] = rand() < 0.4 ? 1 : 0;
    const rows = Int32Array.from({ length: n }, (_, r) => r).sort(() => rand() - 0.5);
    const run = (memory: WebAssembly.Memory | null) => {
      const idx = arena.i32(n);
      idx.set(rows);
      const tmp = arena.i32(n);
      const mid = partitionRows(idx, tmp, bins, n, goLeft, 100, 4321, memory);
      return { mid, idx: Array.from(idx), tmp: Array.from(tmp.subarray(100, 100 + 4321 - mid)) };
    };
    const js = run(null);
    const wasm = run(arena.memory);
    assert.ok(js.mid > 100 && js.mid < 4321);
    assert.deepEqual(wasm, js);
  });

  it('the binary gradients kernel gives the bits of the JavaScript objective, over every branch of exp', () => {
    // Scores whose e^-s takes each of exp.ts's paths: tiny, below 0.5 ln2, the one-step reduction,
    // the general one, Math.exp's (beyond ±700, and -1, whose e^1 V8 answers itself), infinities.
    const special = [0, -0, 1e-30, -1e-30, 0.3, -0.3, 0.9, -0.9, 1, -1, 5, -5, 699.9, -699.9, 700.5, -700.5, 800, -800, Infinity, -Infinity];
    const n = 20_000;
    const arena = new WasmArena();
    const arrays = (memory: WebAssembly.Memory | null): GradientArrays => {
      const r = lcg(74);
      const g: GradientArrays = {
        objective: 'binary',
        nClasses: 2,
        y: arena.f64(n),
        scores: arena.f64(n),
        w: arena.f64(n),
        gh: arena.f32(2 * n),
        rowValue: arena.f64(n),
        memory,
      };
      for (let i = 0; i < n; i++) {
        g.y[i] = r() < 0.2 ? 1 : 0;
        g.scores[i] = i < special.length ? special[i] : (r() - 0.5) * 10 ** (8 * r() - 4);
        g.w[i] = 10 ** (4 * r() - 2);
        g.rowValue[i] = i < special.length ? 0 : (r() - 0.5) * 0.2;
      }
      return g;
    };
    const js = arrays(null);
    const wasm = arrays(arena.memory);
    updateGradients(js, binaryLogLoss, 0, n);
    updateGradients(wasm, binaryLogLoss, 0, n);
    assert.deepEqual(Array.from(wasm.scores), Array.from(js.scores));
    for (let i = 0; i < 2 * n; i++) assert.ok(Object.is(wasm.gh[i], js.gh[i]), `gh[${i}]: ${wasm.gh[i]}, expected ${js.gh[i]} (score ${js.scores[i >> 1]})`);
  });

  it("the kernels' e^x is exp.ts's, bit for bit", () => {
    const kernels = histKernels(new WasmArena().memory);
    const rand = lcg(75);
    const xs = [0, -0, 1, -1, 0.5, 700, -700, 700.1, -745.2, 709.8, NaN, Infinity, -Infinity, 2 ** -30, -(2 ** -29)];
    // Every branch: uniform on [-750, 750], and on small ranges around the branch points.
    for (let i = 0; i < 100_000; i++) xs.push((rand() - 0.5) * 1500, (rand() - 0.5) * 3, (rand() - 0.5) * 2 ** -20);
    for (const x of xs) assert.ok(Object.is(kernels.exp(x), exp(x)), `e^${x}: ${kernels.exp(x)}, expected ${exp(x)}`);
  });

  it("the kernels' identity and leaf-value spread write what their loops say", () => {
    const arena = new WasmArena();
    const kernels = histKernels(arena.memory);
    for (const n of [0, 1, 3, 4, 5, 8, 1001]) {
      const idx = arena.i32(n + 1).fill(-7);
      kernels.identity(idx.byteOffset, n);
      assert.deepEqual(Array.from(idx), [...Array.from({ length: n }, (_, i) => i), -7], `n = ${n}`);
    }
    const rand = lcg(76);
    const n = 500;
    const idx = arena.i32(n);
    idx.set(Array.from({ length: n }, (_, i) => i).sort(() => rand() - 0.5));
    const rowValue = arena.f64(n).fill(Number.NaN);
    kernels.spreadLeaf(rowValue.byteOffset, idx.byteOffset, 100, 300, -0.25);
    for (let q = 0; q < n; q++) assert.ok(Object.is(rowValue[idx[q]], q >= 100 && q < 300 ? -0.25 : Number.NaN), `position ${q}`);
  });

  it('the split search kernel finds the record of splits.ts, bit for bit', () => {
    const rand = lcg(77);
    const arena = new WasmArena();
    // 30 features of 2 to 60 bins, some with a missing bin (empty in some leaves), empty bins
    // here and there; gradients of any sign over several orders of magnitude.
    const p = 30;
    const nBins = Int32Array.from({ length: p }, () => 2 + Math.floor(rand() * 59));
    const hasMissing = Uint8Array.from({ length: p }, () => (rand() < 0.4 ? 1 : 0));
    const missingBin = Int32Array.from(nBins, (b, f) => (hasMissing[f] ? b - 1 : b));
    const featOff = new Int32Array(p + 1);
    for (let f = 0; f < p; f++) featOff[f + 1] = featOff[f] + nBins[f] * 3;
    const size = featOff[p];
    const hist = arena.f64(size * 2);
    const features = arena.i32(p);
    const out = arena.f64(SPLIT_FIELDS);
    const work = (kernel: boolean): Pick<SplitWork & { hist: Float64Array; featOff: Int32Array }, 'hist' | 'featOff'> & { splits: SplitWork } => ({
      hist,
      featOff,
      splits: {
        bins: kernel
          ? { nBins: arena.copyOf(nBins), missingBin: arena.copyOf(missingBin), hasMissing: arena.copyOf(hasMissing) }
          : { nBins, missingBin, hasMissing },
        cfg: { minSamplesLeaf: 5, minHessianLeaf: 1e-3, l2: rand() < 0.5 ? 0 : 1.5, minGain: 0 },
        features,
        leaves: new Float64Array(8),
        out,
        kernel: kernel ? { memory: arena.memory, featOff: arena.copyOf(featOff) } : null,
      },
    });
    let found = 0;
    for (let leaf = 0; leaf < 300; leaf++) {
      const scale = 10 ** (6 * rand() - 3);
      let G = 0;
      let H = 0;
      let N = 0;
      for (let f = 0; f < p; f++) {
        for (let b = 0; b < nBins[f]; b++) {
          const o = size + featOff[f] + 3 * b;
          // The first leaves: two equal halves (bins 0 and 1), so that the larger side is a tie.
          const balanced = leaf < 30;
          const n = balanced ? (b < 2 ? 10 : 0) : rand() < 0.2 || (b === missingBin[f] && rand() < 0.5) ? 0 : Math.floor(rand() * 40);
          hist[o] = n === 0 ? 0 : balanced ? (b === 0 ? 1 : -1) * (1 + f) * scale : (rand() - 0.45) * n * scale;
          hist[o + 1] = n === 0 ? 0 : rand() * n * 0.25 * scale;
          hist[o + 2] = n;
        }
      }
      // The leaf's totals: those of feature 0 (every row is in one bin of each feature here).
      for (let b = 0; b < nBins[0]; b++) {
        G += hist[size + 3 * b];
        H += hist[size + 3 * b + 1];
        N += hist[size + 3 * b + 2];
      }
      const nFeat = 1 + Math.floor(rand() * p);
      features.set(Int32Array.from({ length: p }, (_, f) => f).sort(() => rand() - 0.5));
      const records = [false, true].map((kernel) => {
        const w = work(kernel);
        w.splits.cfg = { minSamplesLeaf: 5, minHessianLeaf: 1e-3 * scale, l2: leaf % 2 === 0 ? 0 : scale, minGain: 0 };
        out.fill(Number.NaN);
        searchLeafInto(w, size, nFeat, G, H, N, out, 0);
        return readSplit(out, 0);
      });
      assert.deepEqual(records[1], records[0], `leaf ${leaf}`);
      if (records[0]) found++;
    }
    assert.ok(found > 200, `splits found: ${found}`);
  });

  it("the kernels' histogram sums and differences (chunks merged, the subtraction trick) are element by element", () => {
    const rand = lcg(78);
    const arena = new WasmArena();
    const kernels = histKernels(arena.memory);
    for (const n of [0, 1, 2, 7, 4563]) {
      const a = arena.f64(n);
      const b = arena.f64(n);
      for (let j = 0; j < n; j++) {
        a[j] = (rand() - 0.5) * 10 ** (12 * rand() - 6);
        b[j] = (rand() - 0.5) * 10 ** (12 * rand() - 6);
      }
      const sum = Array.from(a, (x, j) => x + b[j]);
      const difference = Array.from(a, (x, j) => x - b[j]);
      const out = arena.f64(n + 1).fill(Number.NaN);
      kernels.combine(out.byteOffset, a.byteOffset, b.byteOffset, n, 1);
      assert.deepEqual(Array.from(out), [...difference, Number.NaN], `a - b, n = ${n}`);
      // In place, as the merge does: a += b.
      kernels.combine(a.byteOffset, a.byteOffset, b.byteOffset, n, 0);
      assert.deepEqual(Array.from(a), sum, `a += b, n = ${n}`);
    }
  });
});
