/**
 * A 3x3x3 'same' convolution with few output channels, written as a (1,3,3) convolution with one group of
 * outputs per depth tap, followed by a sum of the groups shifted along z:
 *   out[z] = P_0[z - 1] + P_1[z] + P_2[z + 1],   P_kz = conv_(1,3,3)(x, w[:, :, kz]).
 * ONNX Runtime runs a 3D convolution as im2col + GEMM; with one output channel (RA-UNet's last layer,
 * 32 -> 1) the GEMM is a matrix-vector product and the 27-row im2col is the whole cost. The (1,3,3) form
 * builds a 9-row im2col for three outputs, and the shifted sum runs on maps of `3 * cout` channels only
 * (issue 16: ~30% less time for that layer). The zero padding along z is the shift's own: a tap that falls
 * outside the volume adds a padded zero, as the 'same' convolution's padding would.
 */

/** Output channels up to which the depth-tap form is used (a GEMM with more outputs is not im2col-bound). */
export const DEPTH_TAP_MAX_OUTPUTS = 4;

/**
 * ONNX kernel [3 * cout, cin, 1, 3, 3] of the (1,3,3) convolution from an ONNX 3x3x3 kernel `w`
 * ([cout, cin, 3, 3, 3] row-major): output channel kz * cout + o holds w[o, :, kz, :, :].
 */
export function depthTapKernel(w: Float32Array, cout: number, cin: number): Float32Array {
  if (w.length !== cout * cin * 27) {
    throw new RangeError(`kernel has ${w.length} values, ${cout}x${cin}x3x3x3 needs ${cout * cin * 27}`);
  }
  const out = new Float32Array(w.length);
  for (let kz = 0; kz < 3; kz++) {
    for (let o = 0; o < cout; o++) {
      for (let i = 0; i < cin; i++) {
        const src = ((o * cin + i) * 3 + kz) * 9;
        out.set(w.subarray(src, src + 9), ((kz * cout + o) * cin + i) * 9);
      }
    }
  }
  return out;
}

/** Bias of the (1,3,3) convolution: the original bias on the centre tap's group, zero on the others. */
export function depthTapBias(bias: Float32Array): Float32Array {
  const out = new Float32Array(3 * bias.length);
  out.set(bias, bias.length);
  return out;
}
