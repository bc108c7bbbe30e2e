/**
 * Seeded pseudo-random numbers for the phantoms: a 32-bit mulberry-style generator (small state, good
 * enough statistics for geometry and noise, and identical on every platform), plus seed mixing so that
 * every case and every organ gets its own independent, reproducible stream.
 */

/** Mixes a 32-bit integer into a well-spread 32-bit hash (an integer finaliser: xor-shift, multiply). */
export function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Derives a child seed from a parent seed and a list of integers or labels (order matters). */
export function deriveSeed(seed: number, ...parts: Array<number | string>): number {
  let h = mix32((seed >>> 0) ^ 0x9e3779b9);
  for (const part of parts) {
    if (typeof part === 'number') {
      h = mix32(h ^ mix32((part >>> 0) + 0x632be5ab));
    } else {
      for (let i = 0; i < part.length; i++) h = mix32(h ^ (part.charCodeAt(i) + 0x1b873593));
    }
  }
  return h;
}

export class Rng {
  private state: number;
  private readonly seed: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.state = mix32(this.seed) || 0x6d2b79f5;
  }

  /** Next 32-bit unsigned integer. */
  nextU32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer uniform in [lo, hi] (both inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Standard normal deviate (Box-Muller, one of the pair). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /**
   * An independent generator for a named sub-task, derived from this generator's seed and the label only
   * (not from how many numbers were drawn), so adding draws elsewhere does not shift it.
   */
  fork(label: string | number): Rng {
    return new Rng(deriveSeed(this.seed, label));
  }
}
