// Runs the script named by argv[2] (with the remaining arguments) and, on exit, prints the process's
// peak resident memory to stderr as `[peak-rss-kib N]` (process.resourceUsage().maxRSS is in KiB).
import { pathToFileURL } from 'node:url';

process.on('exit', () => {
  process.stderr.write(`\n[peak-rss-kib ${process.resourceUsage().maxRSS}]\n`);
});
const script = process.argv[2];
process.argv.splice(1, 2, script);
await import(pathToFileURL(script).href);
