/**
 * ONNX Runtime vs tfjs forward time per patch, side by side, at the paper's sizes (full-width random
 * networks): raunet1 one 256x256 slice, raunet2 128x128x32 (tumor) and 224x224x32 (liver), each followed
 * by the ONNX speed-up. Target: ONNX >= 30x faster than tfjs on raunet2 128x128x32.
 *
 * Bounded time: ONNX and 2D tfjs passes take a warm-up run and the median of 3. A full-width 3D tfjs pass
 * at a paper size takes minutes to tens of minutes on the CPU backends (224x224x32: 24 min under load),
 * so by default tfjs runs each 3D network once at 64x64 in-plane (same depth) and the paper-size time
 * is that time scaled by the voxel ratio (convolution work is linear in voxels; fixed per-op costs make
 * the estimate slightly high, never flattering ONNX); the rows say so. `RAUNET_BENCH_FULL=1` times the
 * paper sizes themselves (one timed run each, no warm-up).
 * tfjs runs on the backend `initBackend` picks (`RAUNET_BACKEND` overrides). The tfjs times are kept for
 * the model bench, which reports them instead of repeating the passes.
 *
 * When a WebGPU adapter exists and tfjs runs elsewhere, tfjs on `webgpu` gets its own rows too (on a
 * software adapter such as lavapipe, a CPU: the 3D stand-in is 32x32 in-plane there, scaled the same way;
 * the row names the adapter). `BENCH_ENGINE_WEBGPU=0` leaves them out.
 *
 * `BENCH_ENGINE_CASES=raunet1:64x64,raunet2:64x64x32` replaces the paper sizes (sizes x by y (by z)),
 * e.g. to try the bench quickly; the rows say whether a size is one of the paper's.
 */

import { type BenchResult, benchForward, parseSize } from '../lib/inference/bench.ts';
import type { EngineKind } from '../lib/inference/engine.ts';
import { ARCHS, type ArchName, isArchName } from '../lib/model/archs.ts';
import { initBackend } from '../lib/model/backend.ts';
import { type AdapterReport, ensureNavigatorGpu, formatAdapter } from '../lib/model/webgpu-adapter.ts';
import type { BenchRow } from './index.ts';
import { peakRssMiB, resetPeakRss } from './memory.ts';
import { rememberTfjsForward } from './tfjs-forward-record.ts';

export const name = 'inference engines: forward pass per patch (ONNX Runtime vs tfjs)';

interface Case {
  arch: ArchName;
  /** x by y (by z). */
  size: number[];
}

const PAPER_CASES: Case[] = [
  { arch: 'raunet1', size: [256, 256] },
  { arch: 'raunet2', size: [128, 128, 32] },
  { arch: 'raunet2', size: [224, 224, 32] },
];

/**
 * The case whose speed-up has a target: ONNX Runtime against tfjs in pure JavaScript (the `cpu`
 * backend, what runs when neither native TensorFlow nor WASM is available), as the product brief puts
 * it ("under a second ... against over a minute in pure-JS tfjs"). The wasm backend with this project's
 * kernel patches is much faster than pure JS and is reported beside it, without a target.
 */
const TARGET = { arch: 'raunet2', size: '128x128x32', ratio: 30, backend: 'cpu' };

/** Parses `BENCH_ENGINE_CASES` (`arch:XxY[xZ],...`). */
export function parseCases(text: string): Case[] {
  return text.split(',').map((item) => {
    const [arch, size] = item.trim().split(':');
    if (!arch || !isArchName(arch) || !size) {
      throw new Error(`BENCH_ENGINE_CASES: '${item}' is not arch:size (e.g. raunet2:64x64x32)`);
    }
    return { arch, size: parseSize(size, ARCHS[arch].dims) };
  });
}

interface Plan {
  runs: number;
  warmup: number;
}

/** Slow pairs (tfjs on a 3D patch) get a single timed run. */
function planFor(engine: EngineKind, c: Case): Plan {
  return engine === 'tfjs' && c.size.length === 3 ? { runs: 1, warmup: 0 } : { runs: 3, warmup: 1 };
}

/** In-plane side of the stand-in tfjs pass for 3D sizes (a multiple of 32, so the network accepts it). */
const STAND_IN_SIDE = 64;

/** The size tfjs is timed at for `c` (null: `c` itself), unless RAUNET_BENCH_FULL=1. */
export function standInSize(
  c: Case,
  full = process.env.RAUNET_BENCH_FULL === '1',
  side = STAND_IN_SIDE,
): number[] | null {
  if (full || c.size.length !== 3) return null;
  const [x, y, z] = c.size as [number, number, number];
  if (x <= side && y <= side) return null;
  return [Math.min(x, side), Math.min(y, side), z];
}

/** In-plane side of the stand-in on a software WebGPU adapter (lavapipe: minutes per 64x64x32 pass). */
const SOFTWARE_WEBGPU_SIDE = 32;

/** The WebGPU adapter tfjs could use, or null (none, or BENCH_ENGINE_WEBGPU=0). */
async function webgpuAdapter(): Promise<AdapterReport | null> {
  if (process.env.BENCH_ENGINE_WEBGPU === '0') return null;
  try {
    return await ensureNavigatorGpu();
  } catch {
    return null;
  }
}

const voxels = (size: readonly number[]) => size.reduce((a, b) => a * b, 1);

const describePlan = (p: Plan) =>
  p.runs === 1 && p.warmup === 0
    ? '1 timed run, no warm-up (slow)'
    : `median of ${p.runs} after ${p.warmup} warm-up`;

const log = (msg: string) => process.stderr.write(`  [engines bench] ${msg}\n`);

async function measure(
  c: Case,
  engine: EngineKind,
  backend?: string,
): Promise<{ result: BenchResult; plan: Plan; peak: number }> {
  const plan = planFor(engine, c);
  log(`${c.arch} ${c.size.join('x')} ${engine}${backend ? ` (${backend})` : ''}: ${describePlan(plan)} ...`);
  resetPeakRss();
  const t0 = performance.now();
  const [result] = await benchForward({ arch: c.arch, size: c.size, engines: [engine], backend, ...plan });
  const wall = ((performance.now() - t0) / 1000).toFixed(0);
  log(`  ${result!.backend}: ${result!.forward_s.toFixed(2)} s per pass (${wall} s with model set-up)`);
  return { result: result!, plan, peak: peakRssMiB() };
}

export async function run(): Promise<BenchRow[]> {
  const override = process.env.BENCH_ENGINE_CASES;
  const cases = override ? parseCases(override) : PAPER_CASES;
  const rows: BenchRow[] = [];
  // stand-in tfjs passes, shared by the cases that need the same one
  const standIns = new Map<string, Awaited<ReturnType<typeof measure>>>();
  const adapter = await webgpuAdapter();
  for (const c of cases) {
    const what = `${c.arch} ${c.size.join('x')}`;
    const paper = PAPER_CASES.some((p) => p.arch === c.arch && p.size.join('x') === c.size.join('x'));
    const sizeNote = paper ? 'paper size' : 'not a paper size (BENCH_ENGINE_CASES)';
    const onnx = await measure(c, 'onnx');
    /** tfjs on `backend` (default the fastest): measured, or estimated from the stand-in size. */
    const tfjsPass = async (backend?: string) => {
      const side = backend === 'webgpu' && adapter?.software ? SOFTWARE_WEBGPU_SIDE : STAND_IN_SIDE;
      const small = standInSize(c, undefined, side);
      if (!small) {
        const m = await measure(c, 'tfjs', backend);
        return { m, how: describePlan(m.plan) };
      }
      const key = `${c.arch}:${small.join('x')}:${backend ?? ''}`;
      let m = standIns.get(key);
      if (!m) standIns.set(key, (m = await measure({ arch: c.arch, size: small }, 'tfjs', backend)));
      const scale = voxels(c.size) / voxels(small);
      return {
        m: { ...m, result: { ...m.result, forward_s: m.result.forward_s * scale } },
        how:
          `estimated: ${m.result.forward_s.toFixed(1)} s for ${small.join('x')} x ${scale.toFixed(2)} voxels, ` +
          `${describePlan(m.plan)}; RAUNET_BENCH_FULL=1 times ${c.size.join('x')}`,
      };
    };
    const { m: tfjs, how } = await tfjsPass();
    rememberTfjsForward(c.arch, c.size, {
      seconds: tfjs.result.forward_s,
      backend: tfjs.result.backend,
      peakMiB: tfjs.peak,
      how,
    });
    for (const [m, note] of [
      [onnx, describePlan(onnx.plan)],
      [tfjs, how],
    ] as const) {
      rows.push({
        what: `${what} forward, ${m.result.engine} (${m.result.backend})`,
        value: m.result.forward_s,
        unit: 's',
        peakMiB: m.peak,
        note: `${note}; ${sizeNote}`,
      });
    }
    if (adapter && tfjs.result.backend !== 'webgpu') {
      const gpu = await tfjsPass('webgpu');
      rows.push({
        what: `${what} forward, tfjs (webgpu)`,
        value: gpu.m.result.forward_s,
        unit: 's',
        peakMiB: gpu.m.peak,
        note: `${formatAdapter(adapter)}; ${gpu.how}; ${sizeNote}`,
      });
      await initBackend(tfjs.result.backend, () => {});
    }
    rows.push({
      what: `${what} speed-up onnx vs tfjs (${tfjs.result.backend})`,
      value: tfjs.result.forward_s / onnx.result.forward_s,
      unit: 'x',
    });
    const targeted = c.arch === TARGET.arch && c.size.join('x') === TARGET.size;
    if (targeted) {
      const same = tfjs.result.backend === TARGET.backend;
      const pure = same ? { m: tfjs, how } : await tfjsPass(TARGET.backend);
      if (!same) {
        rows.push({
          what: `${what} forward, tfjs (${pure.m.result.backend}, pure JS)`,
          value: pure.m.result.forward_s,
          unit: 's',
          peakMiB: pure.m.peak,
          note: `${pure.how}; ${sizeNote}`,
        });
        await initBackend(tfjs.result.backend, () => {});
      }
      const ratio = pure.m.result.forward_s / onnx.result.forward_s;
      rows.push({
        what: `${what} speed-up onnx vs pure-JS tfjs`,
        value: ratio,
        unit: 'x',
        note: `target >= ${TARGET.ratio}: ${ratio >= TARGET.ratio ? 'met' : 'MISSED'}`,
      });
    }
  }
  return rows;
}
