/**
 * `npm run bench`: runs every `bench/*.bench.ts` module in turn and prints its results.
 * A bench module exports `name` and `run(): Promise<BenchRow[]>`; speed and memory targets live here,
 * never in unit tests. `BENCH_ONLY=<substring>[,<substring>...]` runs only the modules whose file
 * name contains one of them. Each module's wall and CPU time and the totals are printed; a row may
 * carry the peak resident memory of its own measurement (`peakMiB`, see `bench/memory.ts`).
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

/** Wall and CPU minutes since a start mark (CPU time tells how much a loaded machine slowed the wall). */
const mark = () => ({ wall: performance.now(), cpu: process.cpuUsage() });
const elapsed = (m: ReturnType<typeof mark>) => {
  const c = process.cpuUsage(m.cpu);
  const wall = (performance.now() - m.wall) / 60_000;
  return `${wall.toFixed(1)} min wall, ${((c.user + c.system) / 60e6).toFixed(1)} min CPU`;
};
const started = mark();
for (const file of files) {
  const t0 = mark();
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
  console.log(`(${file}: ${elapsed(t0)})`);
}
console.log(`\nnpm run bench: ${files.length} modules in ${elapsed(started)}`);
