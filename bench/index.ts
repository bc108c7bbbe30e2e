/**
 * `npm run bench`: runs every `bench/*.bench.ts` module in turn and prints its results.
 * A bench module exports `name` and `run(): Promise<BenchRow[]>`; speed and memory targets live here,
 * never in unit tests. `BENCH_ONLY=<substring>[,<substring>...]` runs only the modules whose file name contains one of them.
 * Each module's wall time and the total are printed; a row may carry the peak resident memory of its
 * own measurement (`peakMiB`, see `bench/memory.ts`).
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface BenchRow {
  what: string;
  value: number;
  unit: string;
  note?: string;
  /** Peak resident memory (MiB) while this row was measured. */
  peakMiB?: number;
}

const here = dirname(fileURLToPath(import.meta.url));
const only = process.env.BENCH_ONLY?.split(',').filter(Boolean);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts') && (!only?.length || only.some((o) => f.includes(o))))
  .sort();

const started = performance.now();
const minutes = (t: number) => `${((performance.now() - t) / 60_000).toFixed(1)} min`;
for (const file of files) {
  const t0 = performance.now();
  const mod = (await import(pathToFileURL(join(here, file)).href)) as {
    name: string;
    run: () => Promise<BenchRow[]>;
  };
  console.log(`\n## ${mod.name}`);
  const rows = await mod.run();
  for (const r of rows) {
    const peak = r.peakMiB === undefined ? '' : `  [peak RSS ${r.peakMiB.toFixed(0)} MiB]`;
    console.log(
      `${r.what.padEnd(60)} ${r.value.toFixed(3).padStart(12)} ${r.unit}${peak}${r.note ? `  (${r.note})` : ''}`,
    );
  }
  console.log(`(${file}: ${minutes(t0)})`);
}
console.log(`\nnpm run bench: ${files.length} modules in ${minutes(started)}`);
