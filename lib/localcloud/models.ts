/**
 * Models for a local-cloud run: reduced-width RA-UNets with random weights (the workflow scenarios test
 * plumbing, not accuracy) saved in the models bucket in the agreed layout with `model.onnx`, and promoted
 * through the real model registry. The output bias of each network is set so that the run is
 * deterministic: stage 1 and 2 see liver everywhere (so a box is found), stage 3 sees no tumor.
 */

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as tf from '@tensorflow/tfjs';
import { DynamoModelRegistry } from '../cloud/model-registry.ts';
import { saveOnnx } from '../inference/save-onnx.ts';
import { type ArchName, buildRAUNet } from '../model/archs.ts';
import { initBackend } from '../model/backend.ts';
import { type Stage, saveModel } from '../model/storage.ts';
import { LIVER_PATCH, LOCALIZE_SLICE, TUMOR_PATCH } from '../pipeline/stages.ts';

const STAGE_NETS: Record<Stage, { arch: ArchName; inputShape: number[]; bias: number }> = {
  localize: { arch: 'raunet1', inputShape: [LOCALIZE_SLICE[1], LOCALIZE_SLICE[0], 1], bias: 8 },
  liver: { arch: 'raunet2', inputShape: [LIVER_PATCH[2], LIVER_PATCH[1], LIVER_PATCH[0], 1], bias: 8 },
  tumor: { arch: 'raunet2', inputShape: [TUMOR_PATCH[2], TUMOR_PATCH[1], TUMOR_PATCH[0], 1], bias: -8 },
};

/** Set the bias of the network's last layer that has one (its output convolution). */
function setOutputBias(model: tf.LayersModel, value: number): void {
  for (let i = model.layers.length - 1; i >= 0; i--) {
    const w = model.layers[i].getWeights();
    if (w.length === 2 && w[1].shape.length === 1) {
      model.layers[i].setWeights([w[0], tf.fill(w[1].shape, value)]);
      return;
    }
  }
  throw new Error('model has no output layer with a bias');
}

/**
 * Save one fold per stage under `s3://<bucket>/runs/<runId>/<stage>/fold-0/` and promote the run as each
 * stage's current ensemble. Resolves to the models root URI.
 */
export async function seedModels(opts: {
  bucket: string;
  table: string;
  runId?: string;
  width?: number;
}): Promise<string> {
  await initBackend('cpu');
  const runId = opts.runId ?? 'e2e-seed';
  const root = `s3://${opts.bucket}/runs/${runId}/`;
  const registry = new DynamoModelRegistry(DynamoDBDocumentClient.from(new DynamoDBClient({})), opts.table);
  const at = new Date().toISOString();
  for (const [stage, net] of Object.entries(STAGE_NETS) as Array<[Stage, (typeof STAGE_NETS)[Stage]]>) {
    const width = opts.width ?? 0.125;
    const model = buildRAUNet(net.arch, { width, inputShape: net.inputShape });
    setOutputBias(model, net.bias);
    const dest = `${root}${stage}/fold-0`;
    await saveModel(model, dest, {
      arch: net.arch,
      width,
      inputShape: net.inputShape,
      stage,
      fold: 0,
      folds: 1,
      createdAt: at,
      note: 'local-cloud test model: random weights',
    });
    await saveOnnx(model, dest);
    model.dispose();
    // Random weights were never validated: Dice 0, so any trained ensemble that scores replaces them.
    const run = { stage, runId, models: root, valDice: 0, variant: 'seed', createdAt: at };
    await registry.putRun(run);
    await registry.promoteIfBetter(run, at);
  }
  return root;
}
