/**
 * What `raunet dataset info` prints for a brain-tumour dataset: layout, subjects, dims and spacing ranges,
 * the label convention each labelled subject uses, voxel counts per BraTS region, and problems.
 */
import type { BratsLabelConvention } from '../brats/types.ts';
import { isInputError } from '../errors.ts';
import type { Vec3 } from '../volume/volume.ts';
import type { BratsDataset, BratsLayout } from './brats.ts';
import { range } from './summary.ts';

export interface BratsSubjectSummary {
  id: string;
  dims: Vec3;
  spacing: Vec3;
  /** Absent for an unlabelled subject. */
  labelConvention?: BratsLabelConvention;
  /** Voxels per raw BraTS region (enhancing: label 4, or 3 in the brats-3 convention). */
  labels?: { background: number; necrotic: number; edema: number; enhancing: number };
}

export interface BratsDatasetSummary {
  task: 'brats';
  layout: BratsLayout;
  root: string;
  subjects: number;
  readable: number;
  dims: { min: Vec3; max: Vec3 } | null;
  spacing: { min: Vec3; max: Vec3 } | null;
  /** How many labelled subjects use each convention, and how many have no labels. */
  conventions: { 'brats-4': number; 'brats-3': number; unlabelled: number };
  labels: {
    necroticVoxels: number;
    edemaVoxels: number;
    enhancingVoxels: number;
    subjectsWithTumour: number;
  };
  problems: Array<{ id: string; reason: string }>;
  perSubject: BratsSubjectSummary[];
}

/** Read every subject (one at a time); one that fails to read becomes a problem with its reason. */
export async function summarizeBratsDataset(
  ds: BratsDataset,
  onSubject?: (id: string, index: number, total: number) => void,
): Promise<BratsDatasetSummary> {
  const perSubject: BratsSubjectSummary[] = [];
  const problems = [...ds.problems];
  const conventions = { 'brats-4': 0, 'brats-3': 0, unlabelled: 0 };
  for (const [i, entry] of ds.subjects.entries()) {
    onSubject?.(entry.id, i, ds.subjects.length);
    try {
      const s = await ds.readSubject(entry);
      const summary: BratsSubjectSummary = {
        id: s.id,
        dims: [...s.grid.dims],
        spacing: s.grid.spacing.map((v) => Math.round(v * 1e6) / 1e6) as Vec3,
      };
      if (s.labels && s.labelConvention) {
        const counts = [0, 0, 0, 0, 0];
        for (const v of s.labels) counts[v]++;
        summary.labelConvention = s.labelConvention;
        summary.labels = {
          background: counts[0],
          necrotic: counts[1],
          edema: counts[2],
          enhancing: counts[s.labelConvention === 'brats-3' ? 3 : 4],
        };
        conventions[s.labelConvention]++;
      } else conventions.unlabelled++;
      perSubject.push(summary);
    } catch (e) {
      if (!isInputError(e)) throw e;
      problems.push({ id: entry.id, reason: e.message });
    }
  }
  const labelled = perSubject.filter((p) => p.labels);
  const total = (k: 'necrotic' | 'edema' | 'enhancing') => labelled.reduce((s, p) => s + p.labels![k], 0);
  return {
    task: 'brats',
    layout: ds.layout,
    root: ds.root,
    subjects: ds.subjects.length,
    readable: perSubject.length,
    dims: range(perSubject.map((p) => p.dims)),
    spacing: range(perSubject.map((p) => p.spacing)),
    conventions,
    labels: {
      necroticVoxels: total('necrotic'),
      edemaVoxels: total('edema'),
      enhancingVoxels: total('enhancing'),
      subjectsWithTumour: labelled.filter(
        (p) => p.labels!.necrotic + p.labels!.edema + p.labels!.enhancing > 0,
      ).length,
    },
    problems,
    perSubject,
  };
}

export function formatBratsSummary(s: BratsDatasetSummary): string {
  const v = (x: Vec3) => x.join('x');
  const c = s.conventions;
  const lines = [
    `layout: ${s.layout} (${s.root})`,
    `subjects: ${s.subjects} (${s.readable} readable)`,
    s.dims ? `dims: ${v(s.dims.min)} .. ${v(s.dims.max)}` : 'dims: -',
    s.spacing ? `spacing (mm): ${v(s.spacing.min)} .. ${v(s.spacing.max)}` : 'spacing: -',
    `label convention: ${c['brats-4']} with ET = 4 (BraTS <= 2020), ${c['brats-3']} with ET = 3 (BraTS 2021+), ${c.unlabelled} unlabelled`,
    `voxels: necrotic/non-enhancing ${s.labels.necroticVoxels}, oedema ${s.labels.edemaVoxels}, enhancing ${s.labels.enhancingVoxels} (${s.labels.subjectsWithTumour} subjects with tumour)`,
    ...s.problems.map((p) => `problem: ${p.id}: ${p.reason}`),
  ];
  return `${lines.join('\n')}\n`;
}
