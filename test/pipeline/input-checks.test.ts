/**
 * Input checks before stage 1, on generated volumes of each kind (and the real scans), and the result's
 * plausibility flags on hand-made label maps.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generatePhantom } from '../../lib/phantom/phantom.ts';
import type { InputCheck } from '../../lib/pipeline/input-checks.ts';
import { checkInput } from '../../lib/pipeline/input-checks.ts';
import { LIVER_VOLUME_ML, plausibilityFlags } from '../../lib/pipeline/plausibility.ts';
import { buildReport, DEMO_MODEL_NOTE_PREFIX, isDemoModel } from '../../lib/pipeline/report.ts';
import { DEMO } from '../../lib/training/demo.ts';
import { readVolume } from '../../lib/volume/read.ts';
import { createVolume, scalingAffine, type Vec3, type Volume, withData } from '../../lib/volume/volume.ts';

const { ct, seg } = generatePhantom({ seed: 3, dims: [64, 64, 40], spacing: [4.4, 4.4, 4.2] });
const mapped = (f: (v: number) => number) => withData(ct, Float32Array.from(ct.data, f));
const codes = (c: InputCheck) => c.flags.map((f) => f.code);
/** `code: message` of the refusal, or null. */
const refusal = (c: InputCheck) => (c.refusal ? `${c.refusal.code}: ${c.refusal.message}` : null);

/** A head-like phantom: air, a 900 HU skull shell, brain at 30 HU (+-5), no abdomen. */
function headPhantom(): Volume {
  const dims: Vec3 = [64, 64, 40];
  const data = new Int16Array(64 * 64 * 40).fill(-1000);
  let n = 0;
  for (let k = 0; k < 40; k++)
    for (let j = 0; j < 64; j++)
      for (let i = 0; i < 64; i++, n++) {
        const r = Math.hypot((i - 32) / 28, (j - 32) / 24, (k - 20) / 18);
        if (r < 0.9) data[n] = 30 + ((i * 7 + j * 13 + k * 5) % 11) - 5;
        else if (r < 1) data[n] = 900;
      }
  return createVolume(data, dims, [3, 3, 4]);
}

describe('checkInput', () => {
  it('passes a CT phantom and the real scans without refusal', async () => {
    expect(checkInput(ct)).toEqual({ refusal: null, flags: [] });
    const root = resolve(import.meta.dirname, '../../../shared/data');
    const data = existsSync(root) ? root : '/work/shared/data';
    const real = await readVolume(`${data}/ct/example_ct.nii.gz`);
    expect(checkInput(real)).toEqual({ refusal: null, flags: [] });
    const dicom = await readVolume(`${data}/dicom/crlm-1004`);
    expect(dicom.modality).toBe('CT');
    expect(checkInput(dicom, { modality: dicom.modality })).toEqual({ refusal: null, flags: [] });
  });

  it('refuses an MRI-like volume (no air below -500 HU)', () => {
    const mri = mapped((v) => (v < -500 ? 5 : Math.max(0, 400 + 2 * (v + 100))));
    expect(refusal(checkInput(mri))).toMatch(
      /^intensity-not-ct: values .* only 0\.0% of the voxels are below -500 HU \(air\) \(MRI/,
    );
  });

  it('refuses an inverted CT (air bright), a CT rescaled to [0, 1], a CT shifted by +1000', () => {
    expect(refusal(checkInput(mapped((v) => -v)))).toMatch(
      /^intensity-not-ct: .*below -500 HU \(air\) \(an inverted image\?\)/,
    );
    expect(refusal(checkInput(mapped((v) => (v + 1024) / 3000)))).toMatch(
      /^intensity-not-ct: .*below -500 HU \(air\) \(MRI, a rescaled image/,
    );
    // Air present, but the body shifted up 1000: 44% of the voxels above 500 HU.
    expect(refusal(checkInput(mapped((v) => (v < -500 ? v : v + 1000))))).toMatch(
      /^intensity-not-ct: .*% of the voxels are above 500 HU/,
    );
  });

  it('refuses a label map, integer or float', () => {
    expect(refusal(checkInput(seg))).toMatch(/^label-map: .*values 0\.\.2, only 3 distinct integer values/);
    expect(checkInput(withData(seg, Float32Array.from(seg.data))).refusal?.code).toBe('label-map');
  });

  it('warns about a head without liver-like tissue, but does not refuse it', () => {
    const c = checkInput(headPhantom());
    expect(c.refusal).toBeNull();
    expect(codes(c)).toEqual(['no-liver-like-tissue']);
  });

  it('refuses a DICOM Modality other than CT', () => {
    expect(refusal(checkInput(ct, { modality: 'MR' }))).toBe(
      'modality-not-ct: DICOM Modality is MR, not CT: the models are for CT',
    );
    expect(checkInput(ct, { modality: 'CT' }).refusal).toBeNull();
  });

  it('refuses absurd spacing (1e9 mm pixdim), warns about doubtful spacing', () => {
    const absurd = createVolume(ct.data, ct.dims, [4.4, 4.4, 1e9], scalingAffine([4.4, 4.4, 1e9]));
    expect(checkInput(absurd).refusal?.code).toBe('spacing-absurd');
    const fine = createVolume(ct.data, ct.dims, [0.1, 0.1, 4], scalingAffine([0.1, 0.1, 4]));
    const c = checkInput(fine);
    expect(c.refusal).toBeNull();
    expect(codes(c)).toEqual(['spacing-doubtful']);
    expect(c.flags[0].message).toMatch(/0\.1 mm x 0\.1 mm in-plane/);
    const thick = createVolume(ct.data, ct.dims, [0.8, 0.8, 12], scalingAffine([0.8, 0.8, 12]));
    expect(codes(checkInput(thick))).toEqual(['spacing-doubtful']);
  });

  it('counts slices along the superior axis, whatever the storage order: < 8 refused, < 32 warned', () => {
    // 5 "slices" stored along voxel axis i (the affine sends i to S), 64x40 in-plane.
    const n = 5 * 64 * 40;
    const data = Int16Array.from({ length: n }, (_, idx) => (idx % 3 === 0 ? -1000 : 60));
    const sAlongI = [0, 4, 0, 0, 0, 0, 4, 0, 5, 0, 0, 0, 0, 0, 0, 1]; // i -> S, j -> R, k -> A
    const few = checkInput(createVolume(data, [5, 64, 40], [5, 4, 4], sAlongI));
    expect(refusal(few)).toMatch(/^too-few-slices: 64x40 voxels in-plane and 5 axial slices/);
    const twenty = checkInput(
      createVolume(
        new Int16Array(20 * 64 * 40).map((_, i) => (i % 3 ? 60 : -1000)),
        [20, 64, 40],
        [5, 4, 4],
        sAlongI,
      ),
    );
    expect(twenty.refusal).toBeNull();
    expect(codes(twenty)).toEqual(['few-slices']);
    expect(checkInput(ct, { patchSlices: 48 }).flags.map((f) => f.message)).toEqual([
      "40 axial slices, fewer than the 48 of the 3D networks' patch: the rest is padding",
    ]);
  });
});

describe('plausibilityFlags', () => {
  const dims: Vec3 = [100, 100, 50];
  const affine = scalingAffine([1, 1, 1]); // RAS: i -> right, j -> anterior, k -> superior
  const box = (start: number[], end: number[]) => ({ start: start as Vec3, end: end as Vec3 });

  it('nothing to say about a 1500 mL liver inside the scan and inside the box', () => {
    const flags = plausibilityFlags({
      dims,
      affine,
      liverVolumeMl: 1500,
      liverBox: box([20, 20, 10], [60, 70, 40]),
      localization: box([10, 10, 0], [70, 80, 50]),
    });
    expect(flags).toEqual([]);
  });

  it('an empty liver, with and without a stage-1 box', () => {
    const p = { dims, affine, liverVolumeMl: 0, liverBox: null };
    expect(plausibilityFlags({ ...p, localization: null }).map((f) => f.code)).toEqual(['liver-empty']);
    expect(plausibilityFlags({ ...p, localization: box([0, 0, 0], [5, 5, 5]) })[0].message).toMatch(
      /stage 1 found a box/,
    );
  });

  it('a liver on the scan border (named by world side), implausible volume, box clipping', () => {
    const flags = plausibilityFlags({
      dims,
      affine,
      liverVolumeMl: 350,
      // touches k = 49 (superior end) and i = 0 (left side of a RAS grid); reaches the box's anterior edge.
      liverBox: box([0, 20, 10], [60, 70, 50]),
      localization: box([0, 10, 0], [70, 70, 50]),
    });
    expect(flags.map((f) => f.code)).toEqual([
      'liver-touches-border',
      'liver-volume-implausible',
      'box-clips-mask',
    ]);
    expect(flags[0].message).toMatch(/scan's left, superior border: .*\(350 mL\) is a lower bound/);
    expect(flags[1].message).toContain(`${LIVER_VOLUME_ML.min}-${LIVER_VOLUME_ML.max} mL`);
    // The box's left and superior faces are the scan's own border: not clipping by the box.
    expect(flags[2].message).toMatch(/reaches the anterior edge of stage 1's box/);
  });

  it('the side names follow the affine: LPS storage turns i = 0 into the right side', () => {
    const lps = [-1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
    const flags = plausibilityFlags({
      dims,
      affine: lps,
      liverVolumeMl: 1500,
      liverBox: box([0, 20, 10], [60, 100, 40]),
      localization: null,
    });
    expect(flags[0].message).toMatch(/scan's right, posterior border/);
  });
});

describe('report flags and demo models', () => {
  it('buildReport adds the result flags after the input flags, and demo-models last', () => {
    const labels = withData(ct, new Uint8Array(ct.data.length), 'uint8');
    const report = buildReport(ct, labels, {
      name: 'x',
      localization: null,
      timings: { preprocessMs: 0, localizeMs: 0, liverMs: 0, tumorMs: 0, totalMs: 0 },
      engine: { kind: 'onnx', backend: 'cpu' },
      models: { localize: [], liver: [], tumor: [] },
      options: {},
      flags: [{ code: 'spacing-doubtful', severity: 'warning', message: 'm' }],
      demoModels: true,
    });
    expect(report.flags.map((f) => f.code)).toEqual(['spacing-doubtful', 'liver-empty', 'demo-models']);
    expect(report.flags[2].message).toMatch(/^DEMO MODEL - not for clinical use/);
    expect(report.demoModels).toBe(true);
  });

  it('recognises the demo models by their manifest note', () => {
    expect(DEMO.note.startsWith(DEMO_MODEL_NOTE_PREFIX)).toBe(true);
    expect(isDemoModel({ note: DEMO.note })).toBe(true);
    expect(isDemoModel({ note: 'fold 2 of the LiTS run' })).toBe(false);
    expect(isDemoModel({})).toBe(false);
  });
});
