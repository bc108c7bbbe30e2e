/**
 * A 3x3(x3) 'same' convolution of a nearest 2x up-sampled tensor, computed at the low resolution.
 *
 * Up-sampling repeats every voxel twice along each axis, so along one axis the three taps of the kernel
 * (offsets -1, 0, +1 at the high resolution) read only two low-resolution voxels, and which two depends on
 * the parity of the output position 2i + p:
 *  - p = 0: high positions 2i-1, 2i, 2i+1 are low voxels i-1, i, i   -> taps {w0} on i-1, {w1 + w2} on i;
 *  - p = 1: high positions 2i, 2i+1, 2i+2 are low voxels i, i, i+1   -> taps {w0 + w1} on i, {w2} on i+1.
 * In d dimensions each of the 2^d parity classes is therefore a 2x2(x2) convolution of the low-resolution
 * input, with the kernel taps summed as above and zero padding 1 - p before and p after along each axis
 * (the high-resolution zero padding falls on the same low-resolution positions). Interleaving the classes
 * gives the full-resolution result: the same sums, with 8 multiply-adds per output voxel in 3D instead
 * of 27, and no up-sampled tensor in memory. Only the summation order differs from the direct form.
 *
 * The exporter uses this for RA-UNet's last decoder convolution (`conv2`: a 3x3x3 convolution of the
 * concatenation of the up-sampled decoder map and the first encoder map), which is over 85% of the
 * network's arithmetic at the paper's patch sizes (issue 16, docs/inference.md).
 */

/** Which original taps (0, 1, 2) each low-resolution tap (0, 1) sums, for output parity 0 and 1. */
const TAPS_BY_PARITY: ReadonlyArray<ReadonlyArray<readonly number[]>> = [
  [[0], [1, 2]],
  [[0, 1], [2]],
];

/** The parity bits of class `index` in d dimensions, first axis first (index = sum p_k 2^(d-1-k)). */
export function parityBits(index: number, dims: number): number[] {
  return Array.from({ length: dims }, (_, axis) => (index >> (dims - 1 - axis)) & 1);
}

/** ONNX `pads` of parity class `bits`: 1 - p before and p after along each axis. */
export function parityPads(bits: readonly number[]): number[] {
  return [...bits.map((p) => 1 - p), ...bits];
}

/**
 * The 2x2(x2) kernel of parity class `bits` for the input channels [from, from + count) of an ONNX-layout
 * 3x3(x3) kernel `w` ([cout, cin, 3, 3(, 3)], row-major): out[o, c, t...] = sum over the original taps that
 * low-resolution tap t collects of w[o, from + c, taps...]. Sums are accumulated in float64.
 */
export function parityKernel(
  w: Float32Array,
  cout: number,
  cin: number,
  from: number,
  count: number,
  bits: readonly number[],
): Float32Array {
  const dims = bits.length;
  const full = 3 ** dims;
  const low = 2 ** dims;
  if (w.length !== cout * cin * full) {
    throw new RangeError(
      `kernel has ${w.length} values, ${cout}x${cin}x3^${dims} needs ${cout * cin * full}`,
    );
  }
  if (from < 0 || count < 1 || from + count > cin) {
    throw new RangeError(`input channels [${from}, ${from + count}) outside [0, ${cin})`);
  }
  // For every low tap t (row-major over the d axes), the list of full-kernel offsets it sums.
  const sources: number[][] = [];
  for (let t = 0; t < low; t++) {
    let offsets = [0];
    for (let axis = 0; axis < dims; axis++) {
      const lowTap = (t >> (dims - 1 - axis)) & 1;
      const taps = TAPS_BY_PARITY[bits[axis]!]![lowTap]!;
      offsets = offsets.flatMap((o) => taps.map((k) => o * 3 + k));
    }
    sources.push(offsets);
  }
  const out = new Float32Array(cout * count * low);
  for (let o = 0; o < cout; o++) {
    for (let c = 0; c < count; c++) {
      const src = (o * cin + from + c) * full;
      const dst = (o * count + c) * low;
      for (let t = 0; t < low; t++) {
        let sum = 0;
        for (const k of sources[t]!) sum += w[src + k]!;
        out[dst + t] = sum;
      }
    }
  }
  return out;
}

/** The input channels [from, from + count) of an ONNX-layout kernel [cout, cin, k...], as a new kernel. */
export function kernelChannels(
  w: Float32Array,
  cout: number,
  cin: number,
  from: number,
  count: number,
): Float32Array {
  const k = w.length / (cout * cin);
  const out = new Float32Array(cout * count * k);
  for (let o = 0; o < cout; o++) {
    out.set(w.subarray((o * cin + from) * k, (o * cin + from + count) * k), o * count * k);
  }
  return out;
}
