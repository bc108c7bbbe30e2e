/**
 * Training datasets: discovery of cases on disk (`lib/datasets/`: LiTS, MSD / nnU-Net raw, 3D-IRCADb)
 * and lazy, cached loading.
 *
 * A case is loaded only when a sampler first asks for it, checked and normalised once (`prepareCase` in
 * `case.ts`), and kept in a small least-recently-used cache.
 */
import { openDataset } from '../datasets/index.ts';
import { readNifti } from '../volume/nifti.ts';
import { type CaseFiles, type PreparedCase, prepareCase } from './case.ts';

export { discoverCases } from '../datasets/lits.ts';
export type { CaseFiles, PreparedCase };

export async function loadCase(files: CaseFiles): Promise<PreparedCase> {
  const [ct, seg] = await Promise.all([readNifti(files.volume), readNifti(files.segmentation)]);
  return prepareCase(files.id, ct, seg, files);
}

/** Lazy access to the cases of a dataset with a least-recently-used cache of prepared cases. */
export class CaseStore {
  private readonly byId = new Map<string, CaseFiles>();
  private readonly cache = new Map<string, Promise<PreparedCase>>();

  constructor(
    readonly cases: readonly CaseFiles[],
    private readonly opts: { cacheSize?: number; load?: (files: CaseFiles) => Promise<PreparedCase> } = {},
  ) {
    for (const c of cases) this.byId.set(c.id, c);
  }

  /** The cases of a dataset folder in any layout `openDataset` recognises. */
  static async open(dir: string, opts: { cacheSize?: number } = {}): Promise<CaseStore> {
    const ds = await openDataset(dir);
    if (ds.layout === 'lits') return new CaseStore(ds.cases, opts);
    const load = async (files: CaseFiles) => {
      const { ct, labels } = await ds.readCase(files);
      return prepareCase(files.id, ct, labels, files);
    };
    return new CaseStore(ds.cases, { ...opts, load });
  }

  get ids(): string[] {
    return this.cases.map((c) => c.id);
  }

  get(id: string): Promise<PreparedCase> {
    const hit = this.cache.get(id);
    if (hit) {
      this.cache.delete(id);
      this.cache.set(id, hit); // most recently used last
      return hit;
    }
    const files = this.byId.get(id);
    if (!files) throw new RangeError(`unknown case ${id}`);
    const loading = (this.opts.load ?? loadCase)(files);
    this.cache.set(id, loading);
    loading.catch(() => this.cache.delete(id));
    const limit = Math.max(1, this.opts.cacheSize ?? 4);
    while (this.cache.size > limit) this.cache.delete(this.cache.keys().next().value as string);
    return loading;
  }
}
