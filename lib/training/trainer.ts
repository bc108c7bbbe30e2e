/**
 * The generic RA-UNet training loop: Adam (lr 1e-3, b1 0.9, b2 0.999) on the Dice loss, learning rate
 * x0.1 after a plateau of the validation loss, validation Dice every epoch, a checkpoint callback for
 * the best validation Dice, and a clean stop through an AbortSignal. Batches arrive as typed arrays;
 * every tensor made here is disposed (the optimizer's moment estimates included, at the end).
 */

import * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors.ts';
import { BatchNormND } from '../model/layers.ts';
import { DICE_SMOOTH, diceCounts, diceLoss } from '../model/loss.ts';
import { nextTurn } from '../next-turn.ts';
import { recomputeBatchNormStatistics } from './batchnorm-statistics.ts';

/** One batch: x holds `shape` = [n, ...spatial, c] values (channels last); y holds [n, ...spatial, 1]. */
export interface Batch {
  x: Float32Array;
  y: Float32Array;
  shape: number[];
}

export interface EpochLog {
  /** 1-based. */
  epoch: number;
  /** Mean training Dice loss of the epoch's steps. */
  loss: number;
  steps: number;
  /** Mean Dice loss over the validation batches (inference mode). */
  valLoss: number;
  /** Dice of the thresholded (0.5) prediction over all validation voxels pooled. */
  valDice: number;
  /** Learning rate used during this epoch. */
  lr: number;
  /** True when valDice is the best so far (the checkpoint callback ran). */
  best: boolean;
  seconds: number;
}

export interface TrainOptions {
  /** Called at the start of every epoch; at most `stepsPerEpoch` batches are drawn from it. */
  train: () => AsyncIterable<Batch> | Iterable<Batch>;
  /** Called once per epoch after training; every batch is evaluated. */
  validation: () => AsyncIterable<Batch> | Iterable<Batch>;
  /**
   * Training batches to recompute the batch-norm statistics from before each validation
   * (`recomputeBatchNormStatistics`, at most `bnBatches` of them); without it the moving averages stay.
   */
  bnStatistics?: () => AsyncIterable<Batch> | Iterable<Batch>;
  /** Batches for `bnStatistics` (default 16). */
  bnBatches?: number;
  epochs: number;
  /** Training steps per epoch (default: until the `train` iterable ends). */
  stepsPerEpoch?: number;
  /**
   * Gradient accumulation: a batch of more samples than this is run as micro-batches of at most this
   * many (`accumulateGradients`), then one Adam step (default: the whole batch at once).
   */
  microBatch?: number;
  initialLr?: number;
  /** Epochs without a validation-loss improvement (by more than 1e-4) before the LR is cut x0.1. */
  plateauPatience?: number;
  /** Called after every epoch (after `checkpoint`); a returned promise is awaited before the next epoch. */
  onEpoch?(log: EpochLog): unknown;
  /** Called after an epoch whose validation Dice beats every earlier one (save the model here). */
  checkpoint?(model: tf.LayersModel, log: EpochLog): Promise<void>;
  /** Aborting stops before the next step; `trainModel` then resolves with `stopped: true`. */
  signal?: AbortSignal;
}

export interface TrainResult {
  history: EpochLog[];
  bestValDice: number;
  /** 0 when no epoch completed. */
  bestEpoch: number;
  stopped: boolean;
  finalLr: number;
}

export const ADAM = { beta1: 0.9, beta2: 0.999 } as const;
const PLATEAU_MIN_DELTA = 1e-4;
const LR_FACTOR = 0.1;

export async function trainModel(model: tf.LayersModel, opts: TrainOptions): Promise<TrainResult> {
  if (!(Number.isInteger(opts.epochs) && opts.epochs > 0)) {
    throw new InputError(`epochs must be a positive integer, got ${opts.epochs}`);
  }
  const stepsPerEpoch = opts.stepsPerEpoch ?? Number.POSITIVE_INFINITY;
  const microBatch = opts.microBatch ?? Number.POSITIVE_INFINITY;
  if (!(microBatch >= 1 && (Number.isInteger(microBatch) || microBatch === Number.POSITIVE_INFINITY))) {
    throw new InputError(`microBatch must be a positive integer, got ${opts.microBatch}`);
  }
  let lr = opts.initialLr ?? 1e-3;
  const patience = opts.plateauPatience ?? 20;
  const optimizer = tf.train.adam(lr, ADAM.beta1, ADAM.beta2);
  model.compile({ optimizer, loss: diceLoss });

  const history: EpochLog[] = [];
  let bestValDice = Number.NEGATIVE_INFINITY;
  let bestEpoch = 0;
  let bestValLoss = Number.POSITIVE_INFINITY;
  let wait = 0;
  const aborted = () => opts.signal?.aborted === true;

  try {
    for (let epoch = 1; epoch <= opts.epochs && !aborted(); epoch++) {
      const started = performance.now();
      let lossSum = 0;
      let steps = 0;
      for await (const batch of opts.train()) {
        if (steps >= stepsPerEpoch || aborted()) break;
        lossSum +=
          batch.shape[0]! > microBatch
            ? await accumulatedStep(model, optimizer, batch, microBatch)
            : await trainStep(model, batch);
        steps++;
        await nextTurn();
      }
      if (aborted()) break;
      if (opts.bnStatistics) await recomputeBatchNormStatistics(model, opts.bnStatistics(), opts.bnBatches);
      const val = await evaluate(model, opts.validation());
      const log: EpochLog = {
        epoch,
        loss: steps > 0 ? lossSum / steps : Number.NaN,
        steps,
        valLoss: val.loss,
        valDice: val.dice,
        lr,
        best: val.dice > bestValDice,
        seconds: (performance.now() - started) / 1000,
      };
      history.push(log);
      if (log.best) {
        bestValDice = val.dice;
        bestEpoch = epoch;
        if (opts.checkpoint) await opts.checkpoint(model, log);
      }
      await opts.onEpoch?.(log);
      // Reduce on plateau (as Keras ReduceLROnPlateau, monitor val_loss, min_delta 1e-4, cooldown 0).
      if (val.loss < bestValLoss - PLATEAU_MIN_DELTA) {
        bestValLoss = val.loss;
        wait = 0;
      } else if (++wait >= patience) {
        lr *= LR_FACTOR;
        setLearningRate(optimizer, lr);
        wait = 0;
      }
    }
  } finally {
    optimizer.dispose();
  }
  return {
    history,
    bestValDice: bestEpoch > 0 ? bestValDice : Number.NaN,
    bestEpoch,
    stopped: aborted(),
    finalLr: lr,
  };
}

function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  (optimizer as unknown as { learningRate: number }).learningRate = lr;
}

/** Tensors [x, y] of a batch (the caller disposes them). */
export function batchTensors(batch: Batch): [tf.Tensor, tf.Tensor] {
  const { x, y, shape } = batch;
  const n = shape.reduce((a, b) => a * b, 1);
  const c = shape[shape.length - 1]!;
  const yShape = [...shape.slice(0, -1), 1];
  if (shape.length < 3 || x.length !== n || y.length * c !== n) {
    throw new InputError(
      `batch of shape [${shape.join(', ')}] needs ${n} x values and ${n / c} y values, got ${x.length} and ${y.length}`,
    );
  }
  return [tf.tensor(x, shape, 'float32'), tf.tensor(y, yShape, 'float32')];
}

/** One optimisation step; returns the batch's Dice loss before the update. */
export async function trainStep(model: tf.LayersModel, batch: Batch): Promise<number> {
  const [x, y] = batchTensors(batch);
  try {
    return (await model.trainOnBatch(x, y)) as number;
  } finally {
    tf.dispose([x, y]);
  }
}

/** Run `fn` with every BatchNormND layer's moving statistics held (momentum 1), restoring them after. */
function withMovingStatisticsHeld<T>(model: tf.LayersModel, fn: () => Promise<T>): Promise<T> {
  const layers = model.layers.filter((l): l is BatchNormND => l instanceof BatchNormND);
  const momenta = layers.map((l) => l.momentum);
  for (const l of layers) l.momentum = 1;
  return fn().finally(() => {
    layers.forEach((l, i) => {
      l.momentum = momenta[i]!;
    });
  });
}

/** Samples [from, to) of a batch as a batch of its own. */
function sliceBatch(batch: Batch, from: number, to: number): Batch {
  const per = batch.x.length / batch.shape[0]!;
  const perY = batch.y.length / batch.shape[0]!;
  return {
    x: batch.x.subarray(from * per, to * per),
    y: batch.y.subarray(from * perY, to * perY),
    shape: [to - from, ...batch.shape.slice(1)],
  };
}

/**
 * The gradient of the batch's Dice loss (`diceLoss`: pooled over every voxel of the batch, not a mean
 * of per-sample losses) computed over micro-batches of at most `microBatch` samples and summed.
 *
 * The loss L = 1 - N / D with N = 2 sum(y p) + 1 and D = sum(y) + sum(p) + 1 couples all samples through
 * its two sums, so the gradient is not a sum of micro-batch Dice gradients. It is the sum over
 * micro-batches of the gradients of sum(p * c), c = N / D^2 - 2 y / D, with N and D the whole batch's
 * (dL/dp = c): a first forward pass over the micro-batches (moving statistics held) gives N and D, a
 * second one with gradients the sum. Exact for networks whose samples do not interact; a network with
 * batch normalisation in training mode normalises each micro-batch with its own statistics (and
 * updates its moving averages once per micro-batch), so there it approximates the big batch, as
 * accumulation does in every framework. Returns the batch's loss before the update and the gradients
 * by variable name (the caller disposes them).
 */
export async function accumulateGradients(
  model: tf.LayersModel,
  batch: Batch,
  microBatch: number,
): Promise<{ loss: number; grads: tf.NamedTensorMap }> {
  const n = batch.shape[0]!;
  const parts: Batch[] = [];
  for (let i = 0; i < n; i += microBatch) parts.push(sliceBatch(batch, i, Math.min(n, i + microBatch)));
  let inter = 0;
  let total = 0;
  await withMovingStatisticsHeld(model, async () => {
    for (const part of parts) {
      const [x, y] = batchTensors(part);
      const sums = tf.tidy(() => {
        const p = model.apply(x, { training: true }) as tf.Tensor;
        return tf.stack([tf.sum(tf.mul(y, p)), tf.add(tf.sum(y), tf.sum(p))]);
      });
      tf.dispose([x, y]);
      const [i, t] = await sums.data();
      sums.dispose();
      inter += i!;
      total += t!;
      await nextTurn();
    }
  });
  const N = 2 * inter + DICE_SMOOTH;
  const D = total + DICE_SMOOTH;
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  let grads: tf.NamedTensorMap = {};
  for (const part of parts) {
    const [x, y] = batchTensors(part);
    const step = tf.variableGrads(() => {
      const p = model.apply(x, { training: true }) as tf.Tensor;
      const c = tf.sub(N / (D * D), tf.mul(y, 2 / D));
      return tf.sum(tf.mul(p, c)) as tf.Scalar;
    }, vars);
    tf.dispose([x, y, step.value]);
    const next: tf.NamedTensorMap = {};
    for (const [name, g] of Object.entries(step.grads)) {
      next[name] = grads[name] ? tf.add(grads[name]!, g) : g;
      if (grads[name]) tf.dispose([grads[name]!, g]);
    }
    grads = next;
    await nextTurn();
  }
  return { loss: 1 - N / D, grads };
}

/** One Adam step on the gradient accumulated over micro-batches; returns the batch's Dice loss. */
export async function accumulatedStep(
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  batch: Batch,
  microBatch: number,
): Promise<number> {
  const { loss, grads } = await accumulateGradients(model, batch, microBatch);
  try {
    optimizer.applyGradients(grads);
  } finally {
    tf.dispose(Object.values(grads));
  }
  return loss;
}

/** Mean Dice loss over the batches and the Dice of all their voxels pooled (inference mode). */
export async function evaluate(
  model: tf.LayersModel,
  batches: AsyncIterable<Batch> | Iterable<Batch>,
): Promise<{ loss: number; dice: number; batches: number }> {
  let lossSum = 0;
  let inter = 0;
  let total = 0;
  let count = 0;
  for await (const batch of batches) {
    const [x, y] = batchTensors(batch);
    const [loss, counts] = tf.tidy(() => {
      const p = model.predict(x) as tf.Tensor;
      const c = diceCounts(y, p);
      return [diceLoss(y, p), tf.stack([c.intersection, c.total])];
    });
    tf.dispose([x, y]);
    lossSum += (await loss.data())[0]!;
    const [i, t] = await counts.data();
    tf.dispose([loss, counts]);
    inter += i!;
    total += t!;
    await nextTurn();
    count++;
  }
  return {
    loss: count > 0 ? lossSum / count : Number.NaN,
    // no batches: no Dice (NaN never counts as a new best); two empty masks: Dice 1
    dice: count === 0 ? Number.NaN : total > 0 ? (2 * inter) / total : 1,
    batches: count,
  };
}
