// e^x in JavaScript: fdlibm's e_exp.c (the algorithm and constants of V8's Math.exp, so the same
// bits: a unit test compares them), inlined by the JIT where Math.exp is a call into the runtime.
// The softmax gradients of a multiclass fit take K of them per row and iteration: about a quarter
// less time per call here.

/** The double of IEEE 754 words `hi` and `lo` (fdlibm gives its constants so). */
function fromWords(hi: number, lo = 0): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setUint32(0, hi);
  view.setUint32(4, lo);
  return view.getFloat64(0);
}

// fdlibm's tests on the high word of |x|, as comparisons of |x| with doubles.
/** |x| > 0.5 ln2: reduced by k ln2. */
const REDUCE_FROM = fromWords(0x3fd62e43);
/** |x| < 1.5 ln2: k is ±1. */
const ONE_STEP_BELOW = fromWords(0x3ff0a2b2);
/** |x| < 2^-28: 1 + x. */
const TINY_BELOW = fromWords(0x3e300000);
const LN2_HI = fromWords(0x3fe62e42, 0xfee00000);
const LN2_LO = fromWords(0x3dea39ef, 0x35793c76);
const INV_LN2 = Math.LOG2E;
const P1 = fromWords(0x3fc55555, 0x5555553e);
const P2 = fromWords(0xbf66c16c, 0x16bebd93);
const P3 = fromWords(0x3f11566a, 0xaf25de2c);
const P4 = fromWords(0xbebbbd41, 0xc5d26bf1);
const P5 = fromWords(0x3e663769, 0x72bea4d0);
/** 2^k at k + 1022, for the k of |x| <= LARGEST (|k| <= 1010). */
const POW2 = Float64Array.from({ length: 2046 }, (_, i) => 2 ** (i - 1022));
/** Beyond this (overflow, subnormal results, NaN, infinities) and at 1 (V8 answers Math.E), Math.exp answers. */
const LARGEST = 700;

export function exp(x: number): number {
  const ax = Math.abs(x);
  if (!(ax <= LARGEST) || x === 1) return Math.exp(x);
  if (ax >= REDUCE_FROM) {
    let hi: number;
    let lo: number;
    let k: number;
    if (ax < ONE_STEP_BELOW) {
      hi = x > 0 ? x - LN2_HI : x + LN2_HI;
      lo = x > 0 ? LN2_LO : -LN2_LO;
      k = x > 0 ? 1 : -1;
    } else {
      k = (INV_LN2 * x + (x < 0 ? -0.5 : 0.5)) | 0;
      hi = x - k * LN2_HI;
      lo = k * LN2_LO;
    }
    const r = hi - lo;
    const t = r * r;
    const c = r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
    return (1 - (lo - (r * c) / (2 - c) - hi)) * POW2[k + 1022];
  }
  if (ax < TINY_BELOW) return 1 + x;
  const t = x * x;
  const c = x - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
  return 1 - ((x * c) / (c - 2) - x);
}
