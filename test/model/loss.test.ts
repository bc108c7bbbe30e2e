import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { diceCoefficient, diceLoss } from '../../lib/model/loss.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const value = (t: tf.Tensor) => t.dataSync()[0]!;

describe('diceLoss', () => {
  it('matches hand-computed values, pooled over the batch', () => {
    // batch of 2 samples, 2x2 each: y = [1,1,0,0 | 0,0,0,1], p = [0.5,1,0,0.5 | 0,0.25,0,1]
    const y = tf.tensor([1, 1, 0, 0, 0, 0, 0, 1], [2, 2, 2, 1]);
    const p = tf.tensor([0.5, 1, 0, 0.5, 0, 0.25, 0, 1], [2, 2, 2, 1]);
    // sum(y*p) = 0.5 + 1 + 1 = 2.5; sum(y) = 3; sum(p) = 3.25 -> 1 - 6 / 7.25
    expect(value(diceLoss(y, p))).toBeCloseTo(1 - 6 / 7.25, 6);
    // perfect prediction: 1 - (2*3 + 1)/(6 + 1) = 0; both empty: 1 - 1/1 = 0
    expect(value(diceLoss(y, y))).toBeCloseTo(0, 6);
    expect(value(diceLoss(tf.zeros([1, 4, 1]), tf.zeros([1, 4, 1])))).toBeCloseTo(0, 6);
    // disjoint: 1 - 1 / (3 + 5 + 1)
    const disjoint = tf.tensor([0, 0, 1, 1, 1, 1, 1, 0], [2, 2, 2, 1]);
    expect(value(diceLoss(y, disjoint))).toBeCloseTo(1 - 1 / 9, 6);
  });

  it('has the analytic gradient d/dp = -(2y(S+1) - (2I+1)) / (S+1)^2', () => {
    const y = tf.tensor([1, 0, 1, 0], [1, 4, 1]);
    const p = tf.tensor([0.2, 0.4, 0.9, 0.1], [1, 4, 1]);
    const g = tf
      .grad((q: tf.Tensor) => diceLoss(y, q))(p)
      .dataSync();
    const I = 0.2 + 0.9;
    const S = 2 + 1.6;
    [1, 0, 1, 0].forEach((yi, i) => {
      expect(g[i]).toBeCloseTo(-(2 * yi * (S + 1) - (2 * I + 1)) / (S + 1) ** 2, 5);
    });
  });
});

describe('diceCoefficient', () => {
  it('thresholds the prediction and pools over the batch; 1 for two empty masks', () => {
    const y = tf.tensor([1, 1, 0, 0, 0, 0, 0, 1], [2, 4]);
    const p = tf.tensor([0.6, 0.4, 0.9, 0.1, 0, 0, 0, 0.7], [2, 4]);
    // P = {0, 2, 7}; Y = {0, 1, 7}; |Y∩P| = 2 -> 4/6
    expect(value(diceCoefficient(y, p))).toBeCloseTo(4 / 6, 6);
    expect(value(diceCoefficient(y, p, 0.95))).toBeCloseTo(0, 6);
    expect(value(diceCoefficient(y, p, 0.3))).toBeCloseTo(6 / 7, 6);
    expect(value(diceCoefficient(tf.zeros([3]), tf.zeros([3])))).toBe(1);
  });
});
