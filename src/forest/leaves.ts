// The leaves' outputs as the predictors use them; shared by the trainer (OOB score) and the predictor.

/** Per-leaf outputs used for prediction: class probabilities, or the leaf mean. */
export function leafOutputs(value: ArrayLike<number>, nOut: number, classification: boolean): Float64Array {
  const out = Float64Array.from(value);
  if (!classification) return out;
  for (let l = 0; l < out.length; l += nOut) {
    let s = 0;
    for (let k = 0; k < nOut; k++) s += out[l + k];
    if (s > 0) for (let k = 0; k < nOut; k++) out[l + k] /= s;
  }
  return out;
}
