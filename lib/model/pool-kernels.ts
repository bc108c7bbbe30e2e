/**
 * Max pooling and its gradient on channels-last typed arrays ([n, d, h, w, c]; 2D pooling is the
 * d = 1 case), for 'valid' windows without dilation: the only pooling the RA-UNets use (2x2(x2),
 * stride 2). Ties go to the last maximum in window order (depth, row, column), as the tfjs cpu backend
 * routes them, so gradients of post-ReLU maps (many exact zeros) agree with it.
 */

export interface PoolGeometry {
  /** Input [n, d, h, w, c]. */
  input: readonly [number, number, number, number, number];
  /** Window [d, h, w]. */
  window: readonly [number, number, number];
  strides: readonly [number, number, number];
}

/** Output [n, d, h, w, c] of a 'valid' pooling. */
export function poolOutputShape(g: PoolGeometry): [number, number, number, number, number] {
  const [n, d, h, w, c] = g.input;
  const out = (size: number, k: number, s: number) => Math.floor((size - k) / s) + 1;
  return [
    n,
    out(d, g.window[0], g.strides[0]),
    out(h, g.window[1], g.strides[1]),
    out(w, g.window[2], g.strides[2]),
    c,
  ];
}

/**
 * Visits every output cell with the input index of each channel's maximum (-1 when the window holds
 * only NaN), in output order; `arg` is reused between calls.
 */
function forEachWindowMax(
  x: Float32Array,
  g: PoolGeometry,
  visit: (outIndex: number, arg: Int32Array, best: Float32Array) => void,
): void {
  const [n, d, h, w, c] = g.input;
  const [, od, oh, ow] = poolOutputShape(g);
  const [kd, kh, kw] = g.window;
  const [sd, sh, sw] = g.strides;
  const arg = new Int32Array(c);
  const best = new Float32Array(c);
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let z = 0; z < od; z++) {
      for (let y = 0; y < oh; y++) {
        for (let xo = 0; xo < ow; xo++) {
          best.fill(Number.NEGATIVE_INFINITY);
          arg.fill(-1);
          for (let a = 0; a < kd; a++) {
            const zz = z * sd + a;
            for (let e = 0; e < kh; e++) {
              const row = ((b * d + zz) * h + y * sh + e) * w;
              for (let f = 0; f < kw; f++) {
                const base = (row + xo * sw + f) * c;
                for (let ch = 0; ch < c; ch++) {
                  const v = x[base + ch]!;
                  if (v >= best[ch]!) {
                    best[ch] = v;
                    arg[ch] = base + ch;
                  }
                }
              }
            }
          }
          visit(o, arg, best);
          o += c;
        }
      }
    }
  }
}

/** Max pooling: writes the output (shape `poolOutputShape(g)`) into `out`. */
export function maxPoolForward(x: Float32Array, g: PoolGeometry, out: Float32Array): Float32Array {
  forEachWindowMax(x, g, (o, _arg, best) => out.set(best, o));
  return out;
}

/** Gradient of max pooling: each output's gradient `dy` goes to its window's maximum in `dx` (zeroed). */
export function maxPoolGradient(
  x: Float32Array,
  dy: Float32Array,
  g: PoolGeometry,
  dx: Float32Array,
): Float32Array {
  dx.fill(0);
  forEachWindowMax(x, g, (o, arg) => {
    for (let ch = 0; ch < arg.length; ch++) {
      const i = arg[ch]!;
      if (i >= 0) dx[i] = dx[i]! + dy[o + ch]!;
    }
  });
  return dx;
}
