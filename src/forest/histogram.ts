// Histogram pool shared by the tree learners (random forest and gradient boosting), after
// LightGBM's HistogramPool. A histogram buffer holds, for every feature f, nBins[f] bins of
// `channels` statistics (the forest: class weights or w/wy/wy^2 plus a row count; boosting:
// gradient, hessian, row count). A node keeps its buffer until its children exist, so the larger
// child gets a feature's histogram as parent - smaller sibling (the subtraction trick) instead
// of rescanning its rows. Buffers are recycled through a free list.

export interface HistogramPoolOptions {
  /**
   * Allocate `capacity` buffers up front in one SharedArrayBuffer (`backing`), so worker threads
   * can fill them; acquire() then fails past the capacity. Without it buffers grow on demand.
   */
  sharedCapacity?: number;
  /** Where those buffers go (an array of the given length); a SharedArrayBuffer of their own without it. */
  allocate?: (length: number) => Float64Array;
}

/** Offset of each feature's first bin in a histogram buffer of `channels` values per bin; the last entry is the buffer length. */
export function histOffsets(nBins: Int32Array, channels: number): Int32Array {
  const off = new Int32Array(nBins.length + 1);
  for (let f = 0; f < nBins.length; f++) off[f + 1] = off[f] + nBins[f] * channels;
  return off;
}

export class HistogramPool {
  readonly channels: number;
  readonly nFeatures: number;
  /** Offset of feature f's first bin inside a buffer; featOff[nFeatures] is the buffer length. */
  readonly featOff: Int32Array;
  readonly size: number;
  /** All fixed buffers back to back (sharedCapacity only): buffer id lives at [id * size, (id + 1) * size). */
  readonly backing: Float64Array | null;
  private readonly bufs: Float64Array[] = [];
  private readonly has: Uint8Array[] = [];
  private readonly free: number[] = [];

  constructor(nBins: Int32Array, channels: number, options: HistogramPoolOptions = {}) {
    this.channels = channels;
    this.nFeatures = nBins.length;
    this.featOff = histOffsets(nBins, channels);
    this.size = this.featOff[nBins.length];
    const cap = options.sharedCapacity;
    if (cap === undefined) {
      this.backing = null;
      return;
    }
    this.backing = options.allocate ? options.allocate(cap * this.size) : new Float64Array(new SharedArrayBuffer(cap * this.size * 8));
    for (let id = 0; id < cap; id++) {
      this.bufs.push(this.backing.subarray(id * this.size, (id + 1) * this.size));
      this.has.push(new Uint8Array(this.nFeatures));
      this.free.push(cap - 1 - id);
    }
  }

  /** A buffer with no feature filled in yet. */
  acquire(): number {
    const id = this.free.pop();
    if (id !== undefined) {
      this.has[id].fill(0);
      return id;
    }
    if (this.backing) throw new RangeError(`histogram pool exhausted (${this.bufs.length} buffers)`);
    this.bufs.push(new Float64Array(this.size));
    this.has.push(new Uint8Array(this.nFeatures));
    return this.bufs.length - 1;
  }

  release(id: number): void {
    if (id >= 0) this.free.push(id);
  }

  buffer(id: number): Float64Array {
    return this.bufs[id];
  }

  hasFeature(id: number, f: number): boolean {
    return id >= 0 && this.has[id][f] === 1;
  }

  /** Records that feature f of buffer `id` holds a complete histogram. */
  markFeature(id: number, f: number): void {
    this.has[id][f] = 1;
  }

  /** Zeroes feature f of buffer `id` before it is accumulated. */
  clearFeature(id: number, f: number): void {
    this.bufs[id].fill(0, this.featOff[f], this.featOff[f + 1]);
  }

  /** dst[f] = parent[f] - small[f]: the sibling's histogram without touching its rows. */
  subtract(dst: number, parent: number, small: number, f: number): void {
    const d = this.bufs[dst];
    const p = this.bufs[parent];
    const s = this.bufs[small];
    for (let j = this.featOff[f], e = this.featOff[f + 1]; j < e; j++) d[j] = p[j] - s[j];
    this.has[dst][f] = 1;
  }
}
