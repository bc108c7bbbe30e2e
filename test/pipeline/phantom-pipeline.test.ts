import { describe, expect, it } from 'vitest';
import { generatePhantom } from '../../lib/phantom/phantom.ts';
import { type LoadedModels, segmentCt } from '../../lib/pipeline/segment.ts';
import { boundingBox } from '../../lib/preprocess/crop.ts';
import { sameGrid, withData } from '../../lib/volume/volume.ts';
import { pointwiseEngine } from './engines.ts';
import { dice } from './scene.ts';

/**
 * A generated phantom whose CT is re-encoded from its ground truth (air stays air, other background is
 * capped at 20 HU, liver 100 HU, tumor 160 HU), so that thresholding engines answer with the truth and
 * every deviation comes from the pipeline's own resizing, cropping and pasting.
 */
function encodedPhantom() {
  const { ct, seg } = generatePhantom({ seed: 5, dims: [96, 96, 40], spacing: [4, 4, 6], tumors: 2 });
  const hu = Int16Array.from(ct.data, (v, i) =>
    seg.data[i] === 2 ? 160 : seg.data[i] === 1 ? 100 : v < -500 ? -1000 : Math.min(v, 20),
  );
  return { ct: withData(ct, hu, 'int16'), seg };
}

// normalised value of h HU when the volume spans -100 .. 160 HU after windowing
const norm = (h: number) => (h + 100) / 260;

function models(): LoadedModels {
  const liver = () => pointwiseEngine((v) => (v > norm(60) ? 1 : 0));
  return {
    // paper proportions: slices shrunk (96 -> 64 here, 512 -> 256 there), liver box resized in-plane
    localize: [{ engine: liver(), manifest: { inputShape: [64, 64, 1] }, id: 'localize/fold-0' }],
    liver: [{ engine: liver(), manifest: { inputShape: [16, 64, 64, 1] }, id: 'liver/fold-0' }],
    tumor: [
      {
        engine: pointwiseEngine((v) => (v > norm(130) ? 1 : 0)),
        manifest: { inputShape: [16, 32, 32, 1] },
        id: 't',
      },
    ],
  };
}

describe('the pipeline on a generated phantom', () => {
  it('boxes, segments and pastes back the liver and tumors on the input grid', async () => {
    const { ct, seg } = encodedPhantom();
    const { labels, report } = await segmentCt(ct, models(), { overlap: 0.5 });
    expect(sameGrid(labels, ct, 0)).toBe(true);
    // stage 1: the padded box holds the whole true liver
    const truthBox = boundingBox(seg.data, seg.dims, 0)!;
    const box = report.localization!.voxels;
    for (let a = 0; a < 3; a++) {
      expect(box.start[a]).toBeLessThanOrEqual(truthBox.start[a]);
      expect(box.end[a]).toBeGreaterThanOrEqual(truthBox.end[a]);
      // and is the coarse liver's box + 10, so not much larger than the truth + 10 (coarse grid: 1.5 voxels)
      expect(box.start[a]).toBeGreaterThanOrEqual(Math.max(0, truthBox.start[a] - 12));
      expect(box.end[a]).toBeLessThanOrEqual(Math.min(seg.dims[a], truthBox.end[a] + 12));
    }
    // stage 2: resized in-plane and back; stage 3 at native resolution
    const liverPred = Uint8Array.from(labels.data, (v) => (v > 0 ? 1 : 0));
    const liverTrue = Uint8Array.from(seg.data, (v) => (v > 0 ? 1 : 0));
    expect(dice(liverPred, liverTrue)).toBeGreaterThan(0.95);
    const tumorPred = Uint8Array.from(labels.data, (v) => (v === 2 ? 1 : 0));
    const tumorTrue = Uint8Array.from(seg.data, (v) => (v === 2 ? 1 : 0));
    expect(dice(tumorPred, tumorTrue)).toBeGreaterThan(0.98);
    expect(report.tumors.count).toBeGreaterThanOrEqual(1);
  });
});
