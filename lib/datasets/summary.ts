/** What `raunet dataset info` prints: layout, cases, dims and spacing ranges, label counts, problems. */
import { isInputError } from '../errors.ts';
import type { Vec3 } from '../volume/volume.ts';
import type { Dataset, DatasetLayout } from './types.ts';

export interface CaseSummary {
  id: string;
  dims: Vec3;
  spacing: Vec3;
  /** Voxel counts of label 0, 1 (liver), 2 (tumour); `other` counts any other value. */
  labels: { background: number; liver: number; tumor: number; other: number };
}

export interface DatasetSummary {
  layout: DatasetLayout;
  root: string;
  cases: number;
  readable: number;
  dims: { min: Vec3; max: Vec3 } | null;
  spacing: { min: Vec3; max: Vec3 } | null;
  labels: { liverVoxels: number; tumorVoxels: number; casesWithTumor: number };
  problems: Array<{ id: string; reason: string }>;
  perCase: CaseSummary[];
}

/** Per-axis minimum and maximum of a list of triples (dims, spacings); null for none. */
export function range(vs: Vec3[]): { min: Vec3; max: Vec3 } | null {
  if (vs.length === 0) return null;
  const min = [0, 1, 2].map((a) => Math.min(...vs.map((v) => v[a]))) as Vec3;
  const max = [0, 1, 2].map((a) => Math.max(...vs.map((v) => v[a]))) as Vec3;
  return { min, max };
}

/** Read every case (one at a time); a case that fails to read becomes a problem with its reason. */
export async function summarizeDataset(
  ds: Dataset,
  onCase?: (id: string, index: number, total: number) => void,
): Promise<DatasetSummary> {
  const perCase: CaseSummary[] = [];
  const problems = [...ds.problems];
  for (const [i, c] of ds.cases.entries()) {
    onCase?.(c.id, i, ds.cases.length);
    try {
      const { ct, labels } = await ds.readCase(c);
      if (labels.dims.some((d, a) => d !== ct.dims[a])) {
        problems.push({ id: c.id, reason: `labels ${labels.dims.join('x')} vs CT ${ct.dims.join('x')}` });
        continue;
      }
      const counts = { background: 0, liver: 0, tumor: 0, other: 0 };
      for (const v of labels.data) {
        if (v === 0) counts.background++;
        else if (v === 1) counts.liver++;
        else if (v === 2) counts.tumor++;
        else counts.other++;
      }
      if (counts.other > 0)
        problems.push({ id: c.id, reason: `${counts.other} voxels with labels other than 0/1/2` });
      perCase.push({
        id: c.id,
        dims: [...ct.dims],
        spacing: ct.spacing.map((s) => Math.round(s * 1e6) / 1e6) as Vec3,
        labels: counts,
      });
    } catch (e) {
      if (!isInputError(e)) throw e;
      problems.push({ id: c.id, reason: e.message });
    }
  }
  return {
    layout: ds.layout,
    root: ds.root,
    cases: ds.cases.length,
    readable: perCase.length,
    dims: range(perCase.map((p) => p.dims)),
    spacing: range(perCase.map((p) => p.spacing)),
    labels: {
      liverVoxels: perCase.reduce((s, p) => s + p.labels.liver, 0),
      tumorVoxels: perCase.reduce((s, p) => s + p.labels.tumor, 0),
      casesWithTumor: perCase.filter((p) => p.labels.tumor > 0).length,
    },
    problems,
    perCase,
  };
}

export function formatSummary(s: DatasetSummary): string {
  const v = (x: Vec3) => x.join('x');
  const lines = [
    `layout: ${s.layout} (${s.root})`,
    `cases: ${s.cases} (${s.readable} readable)`,
    s.dims ? `dims: ${v(s.dims.min)} .. ${v(s.dims.max)}` : 'dims: -',
    s.spacing ? `spacing (mm): ${v(s.spacing.min)} .. ${v(s.spacing.max)}` : 'spacing: -',
    `liver voxels: ${s.labels.liverVoxels}, tumor voxels: ${s.labels.tumorVoxels} (${s.labels.casesWithTumor} cases with tumor)`,
    ...s.problems.map((p) => `problem: ${p.id}: ${p.reason}`),
  ];
  return `${lines.join('\n')}\n`;
}
