/**
 * Seeded randomness for splits and samplers: the project's generator (`Rng`, `deriveSeed` of
 * `lib/phantom/random.ts`, identical on every platform) plus an in-place shuffle.
 */
import { deriveSeed, Rng } from '../phantom/random.ts';

export { deriveSeed, Rng };

export function createRng(seed: number): Rng {
  return new Rng(seed);
}

/** Fisher-Yates shuffle in place; returns the array. */
export function shuffleInPlace<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    const t = items[i];
    items[i] = items[j];
    items[j] = t;
  }
  return items;
}
