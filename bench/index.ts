/**
 * `npm run bench`: runs every `bench/*.bench.ts` module in turn and prints its results.
 * A bench module exports `name` and `run(): Promise<BenchRow[]>`; speed and memory targets live here,
 * never in unit tests. `BENCH_ONLY=<substring>` runs only the modules whose file name matches.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface BenchRow {
  what: string;
  value: number;
  unit: string;
  note?: string;
}

const here = dirname(fileURLToPath(import.meta.url));
const only = process.env.BENCH_ONLY;
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts') && (!only || f.includes(only)))
  .sort();

for (const file of files) {
  const mod = (await import(pathToFileURL(join(here, file)).href)) as {
    name: string;
    run: () => Promise<BenchRow[]>;
  };
  console.log(`\n## ${mod.name}`);
  const rows = await mod.run();
  for (const r of rows) {
    console.log(
      `${r.what.padEnd(60)} ${r.value.toFixed(3).padStart(12)} ${r.unit}${r.note ? `  (${r.note})` : ''}`,
    );
  }
}
