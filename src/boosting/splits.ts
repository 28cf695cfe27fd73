// Best split of a leaf from its gradient histograms (three channels per bin: gradient, hessian,
// row count): for every feature, every cut "value bins 0 .. b go left", with the missing bin on
// either side (the default direction, as XGBoost and LightGBM). Pure functions of the histograms,
// so that any thread can search a leaf.

/** The best split found for a leaf (right side = leaf total - left side). */
export interface SplitRecord {
  feature: number;
  /** Value bins <= bin go left. */
  bin: number;
  /** Where rows in the missing bin go. */
  defaultLeft: boolean;
  gain: number;
  leftG: number;
  leftH: number;
  leftN: number;
}

export interface SplitConstraints {
  minSamplesLeaf: number;
  minHessianLeaf: number;
  l2: number;
  minGain: number;
}

/** The features' bins as binMatrix made them. */
export interface SplitBins {
  nBins: Int32Array;
  missingBin: Int32Array;
  hasMissing: Uint8Array;
}

/** Fields of a SplitRecord in a Float64Array (to pass one between threads). */
export const SPLIT_FIELDS = 7;

/**
 * The best split of a leaf (G, H, N: its totals) over features[0 .. nFeat), whose histograms are
 * at hist[base + featOff[f] ..], into `best` (feature -1 when no split satisfies the constraints).
 */
export function searchSplits(
  hist: Float64Array,
  base: number,
  featOff: Int32Array,
  features: Int32Array,
  nFeat: number,
  bins: SplitBins,
  G: number,
  H: number,
  N: number,
  cfg: SplitConstraints,
  best: SplitRecord,
): void {
  best.feature = -1;
  best.gain = Math.max(cfg.minGain, 0);
  for (let j = 0; j < nFeat; j++) {
    const f = features[j];
    const off = base + featOff[f];
    const hasMb = bins.hasMissing[f] === 1;
    const nValue = bins.nBins[f] - (hasMb ? 1 : 0);
    const mo = off + bins.missingBin[f] * 3;
    const mn = hasMb ? hist[mo + 2] : 0;
    // Missing values to the right (unseen ones follow the larger child); with missing values,
    // "all values left" is a split too.
    scanSplits(hist, off, mn > 0 ? nValue : nValue - 1, 0, 0, 0, mn === 0 ? DEFAULT_LARGER : DEFAULT_RIGHT, f, G, H, N, cfg, best);
    // Missing values to the left.
    if (mn > 0) scanSplits(hist, off, nValue - 1, hist[mo], hist[mo + 1], mn, DEFAULT_LEFT, f, G, H, N, cfg, best);
  }
}

export function writeSplit(s: SplitRecord, out: Float64Array, at: number): void {
  out[at] = s.feature;
  out[at + 1] = s.bin;
  out[at + 2] = s.defaultLeft ? 1 : 0;
  out[at + 3] = s.gain;
  out[at + 4] = s.leftG;
  out[at + 5] = s.leftH;
  out[at + 6] = s.leftN;
}

/** The split written at `at` by writeSplit, or null when it has none. */
export function readSplit(out: Float64Array, at: number): SplitRecord | null {
  if (out[at] < 0) return null;
  return { feature: out[at], bin: out[at + 1], defaultLeft: out[at + 2] === 1, gain: out[at + 3], leftG: out[at + 4], leftH: out[at + 5], leftN: out[at + 6] };
}

/** Where the missing bin goes for the splits a scan tries: left, right, or with the larger side. */
const DEFAULT_LEFT = 0;
const DEFAULT_RIGHT = 1;
const DEFAULT_LARGER = 2;

/**
 * Tries the splits "value bins 0 .. b go left" for b < last of one feature's histogram at `off`,
 * the left side starting from (g0, h0, n0) (the missing bin's sums when it goes left), and
 * records the best in `best` (gain G_L^2 / (H_L + l2) + G_R^2 / (H_R + l2) - G^2 / (H + l2), halved).
 */
function scanSplits(
  hist: Float64Array,
  off: number,
  last: number,
  g0: number,
  h0: number,
  n0: number,
  missing: number,
  f: number,
  G: number,
  H: number,
  N: number,
  cfg: SplitConstraints,
  best: SplitRecord,
): void {
  const { minSamplesLeaf, minHessianLeaf, l2 } = cfg;
  const parent = (G * G) / (H + l2);
  let gl = g0;
  let hl = h0;
  let nl = n0;
  for (let b = 0; b < last; b++) {
    const o = off + b * 3;
    if (hist[o + 2] === 0) continue;
    gl += hist[o];
    hl += hist[o + 1];
    nl += hist[o + 2];
    const nr = N - nl;
    const hr = H - hl;
    if (nl < minSamplesLeaf || nr < minSamplesLeaf || hl < minHessianLeaf || hr < minHessianLeaf) continue;
    const gr = G - gl;
    const gain = 0.5 * ((gl * gl) / (hl + l2) + (gr * gr) / (hr + l2) - parent);
    if (gain > best.gain) {
      best.gain = gain;
      best.feature = f;
      best.bin = b;
      best.defaultLeft = missing === DEFAULT_LEFT || (missing === DEFAULT_LARGER && nl >= nr);
      best.leftG = gl;
      best.leftH = hl;
      best.leftN = nl;
    }
  }
}
