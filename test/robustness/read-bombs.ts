/**
 * Child-process probe: reads each file named on the command line with `readVolume` and prints one JSON
 * line per file: the refusal (code, message), the time it took and the peak resident memory during that
 * read alone (VmHWM reset through /proc/self/clear_refs, see bench/memory.ts). Used by the robustness
 * tests and the robustness bench: `node --import tsx test/robustness/read-bombs.ts <file>...`.
 */
import { peakRssMiB, resetPeakRss } from '../../bench/memory.ts';
import { isInputError } from '../../lib/errors.ts';
import { readVolume } from '../../lib/volume/read.ts';

for (const file of process.argv.slice(2)) {
  resetPeakRss();
  const t0 = performance.now();
  let code = 'OK';
  let message = '';
  try {
    await readVolume(file);
  } catch (e) {
    code = isInputError(e) ? e.code : 'CRASH';
    message = e instanceof Error ? e.message : String(e);
  }
  const ms = performance.now() - t0;
  process.stdout.write(`${JSON.stringify({ file, code, message, ms, peakMiB: peakRssMiB() })}\n`);
}
