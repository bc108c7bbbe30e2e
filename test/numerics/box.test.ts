import { describe, expect, it } from 'vitest';
import { boxRecall } from '../../lib/metrics/box.ts';

describe('boxRecall', () => {
  // dims 4x3x2, x fastest; foreground (label 1 or 2) at (0,0,0), (3,0,0), (1,2,0), (2,1,1), (3,2,1)
  const labels = new Uint8Array(24);
  const at = (x: number, y: number, z: number) => x + 4 * (y + 3 * z);
  labels[at(0, 0, 0)] = 1;
  labels[at(3, 0, 0)] = 2;
  labels[at(1, 2, 0)] = 1;
  labels[at(2, 1, 1)] = 1;
  labels[at(3, 2, 1)] = 2;

  it('counts the foreground voxels inside the box (end exclusive)', () => {
    // x 1..3, y 0..2, z 0..1 (exclusive ends): holds (1,2,0) and (2,1,1) -> 2 of 5
    expect(boxRecall(labels, [4, 3, 2], { start: [1, 0, 0], end: [3, 3, 2] })).toBeCloseTo(2 / 5, 12);
    // z 1 only, whole plane: (2,1,1), (3,2,1) -> 2 of 5
    expect(boxRecall(labels, [4, 3, 2], { start: [0, 0, 1], end: [4, 3, 2] })).toBeCloseTo(2 / 5, 12);
    expect(boxRecall(labels, [4, 3, 2], { start: [0, 0, 0], end: [4, 3, 2] })).toBe(1);
    // a box that ends where the foreground starts holds none of it
    expect(boxRecall(labels, [4, 3, 2], { start: [0, 1, 0], end: [1, 3, 2] })).toBe(0);
  });

  it('is 0 without a box, 1 without foreground, and checks the sizes', () => {
    expect(boxRecall(labels, [4, 3, 2], null)).toBe(0);
    expect(boxRecall(new Uint8Array(24), [4, 3, 2], null)).toBe(1);
    expect(() => boxRecall(labels, [4, 3, 3], null)).toThrow(/24 values/);
  });
});
