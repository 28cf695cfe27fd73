// The boosting grower's WebAssembly histogram kernels (histograms.wat) and the memory they work in.
// A kernel reads only the module's own linear memory, so every array it reads or writes (the rows'
// bins, the node's rows and gradients, the histograms) is carved out of one shared
// WebAssembly.Memory: the arena. Its arrays are ordinary typed arrays over that memory, which the
// rest of the grower (and its worker threads, which get the Memory with the shared work) reads as
// before; a kernel gets their byte offsets.
import { HISTOGRAMS_WASM } from './histograms-wasm.ts';

const PAGE_BYTES = 65_536;
/** 2 GiB: every address is a non-negative int32. */
const MAX_PAGES = 32_768;
/** Arrays start on a cache line. */
const ALIGN = 64;

/**
 * Typed arrays carved out of a shared WebAssembly.Memory, never freed (an arena lives as long as one
 * training run). Allocation is a compare-and-swap on the next free byte, kept at the start of the
 * memory, so the threads that share the memory can all allocate.
 */
export class WasmArena {
  readonly memory: WebAssembly.Memory;
  private readonly next: Int32Array;
  /** The memory's buffers this arena made arrays over (a grown memory has a new one). */
  private readonly buffers = new WeakSet<ArrayBufferLike>();

  /** A new arena, or (memory) the arena of a memory another thread made. */
  constructor(memory?: WebAssembly.Memory) {
    this.memory = memory ?? new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
    this.next = new Int32Array(this.memory.buffer, 0, 1);
    if (!memory) Atomics.store(this.next, 0, ALIGN);
  }

  f64(n: number): Float64Array {
    const at = this.take(n * 8);
    return new Float64Array(this.buffer(), at, n);
  }

  f32(n: number): Float32Array {
    const at = this.take(n * 4);
    return new Float32Array(this.buffer(), at, n);
  }

  i32(n: number): Int32Array {
    const at = this.take(n * 4);
    return new Int32Array(this.buffer(), at, n);
  }

  u8(n: number): Uint8Array {
    const at = this.take(n);
    return new Uint8Array(this.buffer(), at, n);
  }

  /** A copy of `src` in the arena, an array of the same kind. */
  copyOf<T extends Float64Array | Int32Array | Uint8Array>(src: T): T {
    const dst = src instanceof Float64Array ? this.f64(src.length) : src instanceof Int32Array ? this.i32(src.length) : this.u8(src.length);
    dst.set(src);
    return dst as T;
  }

  /** Whether `a` is an array this arena made, or part of one (false for an arena array another thread made). */
  owns(a: ArrayBufferView): boolean {
    return this.buffers.has(a.buffer);
  }

  private buffer(): ArrayBufferLike {
    const b = this.memory.buffer;
    this.buffers.add(b);
    return b;
  }

  /** The start of `bytes` fresh (zeroed) bytes, the memory grown first when they do not fit. */
  private take(bytes: number): number {
    for (;;) {
      const at = Atomics.load(this.next, 0);
      const start = (at + ALIGN - 1) & ~(ALIGN - 1);
      const end = start + Math.max(bytes, 1);
      if (end > MAX_PAGES * PAGE_BYTES)
        throw new RangeError(`boosting arena: ${end} bytes exceed the ${MAX_PAGES * PAGE_BYTES} a WebAssembly memory holds here`);
      const have = this.memory.buffer.byteLength;
      // Two threads growing at once only grow it more than needed.
      if (end > have) this.memory.grow(Math.ceil((end - have) / PAGE_BYTES));
      if (Atomics.compareExchange(this.next, 0, at, end) === at) return start;
    }
  }
}

/** The kernels of histograms.wat; every pointer is a byte offset into the arena's memory. */
export interface HistKernels {
  dense(
    hist: number,
    bins: number,
    p: number,
    c0: number,
    m: number,
    colOff: number,
    idx: number,
    gh: number,
    start: number,
    end: number,
    counted: number,
    sparse: number,
    ptr: number,
    entry: number,
  ): void;
  sparse(hist: number, ptr: number, entry: number, idx: number, gh: number, start: number, end: number): void;
  partition(idx: number, tmp: number, bins: number, goLeft: number, start: number, end: number): number;
  binaryGradients(y: number, scores: number, w: number, gh: number, rowValue: number, start: number, end: number): void;
  joinChunks(idx: number, tmp: number, chunkLeft: number, start: number, end: number, nChunks: number): number;
  zero(at: number, bytes: number): void;
  /** dst = a + b (op 0) or a - b (op 1), n float64s. */
  combine(dst: number, a: number, b: number, n: number, op: number): void;
  identity(idx: number, n: number): void;
  spreadLeaf(rowValue: number, idx: number, start: number, end: number, value: number): void;
  searchSplits(
    hist: number,
    featOff: number,
    features: number,
    nFeat: number,
    nBins: number,
    missingBin: number,
    hasMissing: number,
    G: number,
    H: number,
    N: number,
    minSamples: number,
    minHessian: number,
    l2: number,
    minGain: number,
    out: number,
  ): void;
  /** e^x, exp.ts's (for the tests). */
  exp(x: number): number;
}

let compiled: WebAssembly.Module | undefined;
// One instance per memory and thread (module state: each worker has its own).
const instances = new WeakMap<WebAssembly.Memory, HistKernels>();

/** This thread's kernels over `memory`. */
export function histKernels(memory: WebAssembly.Memory): HistKernels {
  let k = instances.get(memory);
  if (!k) {
    compiled ??= new WebAssembly.Module(Buffer.from(HISTOGRAMS_WASM, 'base64'));
    k = new WebAssembly.Instance(compiled, { env: { memory, exp: Math.exp } }).exports as unknown as HistKernels;
    instances.set(memory, k);
  }
  return k;
}
