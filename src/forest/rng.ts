// Small, fast, seedable PRNG (sfc32 seeded through splitmix32). Math.random is not seedable,
// and every tree must be reproducible from (forest seed, tree index) alone.

function splitmix32(state: number): number {
  let z = (state + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Derives an independent 32-bit seed for tree `index` of a forest seeded with `seed`. */
export function treeSeed(seed: number, index: number): number {
  const s = splitmix32(seed | 0);
  return splitmix32((s ^ Math.imul(index + 1, 0x85ebca77)) | 0);
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = splitmix32(seed);
    this.b = splitmix32(this.a ^ 0x1b873593);
    this.c = splitmix32(this.b ^ 0x27d4eb2f);
    this.d = 1;
    // Warm up so nearby seeds diverge.
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  nextU32(): number {
    const t0 = (this.a + this.b) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.d = (this.d + 1) | 0;
    const t = (t0 + this.d) | 0;
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform integer in [0, n) for n <= 2^32. */
  int(n: number): number {
    return Math.floor((this.nextU32() / 4294967296) * n);
  }
}
