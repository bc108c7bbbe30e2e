/**
 * Real failing writes, not mocked fs calls: a full disk (ENOSPC, a small tmpfs mounted in a private
 * mount namespace, `unshare -Urm`, which works as root and, where user namespaces are allowed, without)
 * and a file-size limit (EFBIG, RLIMIT_FSIZE through `ulimit -f`, which works everywhere). In each case
 * the failing command says one line naming the file, leaves nothing half-written, and an earlier result
 * in the same folder stays byte for byte.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_LAUNCHER } from '../../lib/cli/paths.ts';
import { exportModelFolder } from '../../lib/inference/save-onnx.ts';
import { buildRAUNet } from '../../lib/model/archs.ts';
import { initBackend } from '../../lib/model/backend.ts';
import { saveModel } from '../../lib/model/storage.ts';
import { REPO_ROOT } from '../../lib/repo-root.ts';
import { writeNifti } from '../../lib/volume/nifti.ts';
import { createVolume } from '../../lib/volume/volume.ts';
import { snapshot } from './inputs.ts';

const root = mkdtempSync(join(tmpdir(), 'raunet-full-disk-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Can this process mount a tmpfs in a private mount namespace? The reason when not. */
function tmpfsUnavailable(): string | undefined {
  const probe = join(root, 'probe');
  mkdirSync(probe, { recursive: true });
  const r = spawnSync(
    'unshare',
    ['-Urm', 'sh', '-c', 'mount -t tmpfs -o size=64k raunet-probe "$1"', 'sh', probe],
    {
      encoding: 'utf8',
    },
  );
  if (r.error) return `unshare not runnable: ${r.error.message}`;
  if (r.status !== 0) return `unshare -Urm + mount tmpfs refused: ${(r.stderr || '').trim()}`;
  return undefined;
}
const noTmpfs = tmpfsUnavailable();
if (noTmpfs) {
  // Loud on purpose: the ENOSPC cases below are then not run on this machine.
  process.stderr.write(`\nSKIPPING the ENOSPC (full tmpfs) tests: ${noTmpfs}\n\n`);
}

const cli = (args: string) => `"${process.execPath}" "${CLI_LAUNCHER}" ${args}`;
/** One shell step: run a CLI command, keep its exit code and stderr in `log` (on the real disk). */
const step = (name: string, args: string) =>
  `${cli(args)} >/dev/null 2>"$LOG/${name}.err"; echo $? >"$LOG/${name}.code"`;
const result = (log: string, name: string) => ({
  code: Number(readFileSync(join(log, `${name}.code`), 'utf8').trim()),
  err: readFileSync(join(log, `${name}.err`), 'utf8'),
});
const oneLine = (err: string) => expect(err.trim().split('\n'), err).toHaveLength(1);

let small: string;
let big: string;
let model: string;
let onnxBytes: number;
beforeAll(async () => {
  await initBackend('cpu');
  const inputs = join(root, 'inputs');
  mkdirSync(inputs);
  // 16^3 int16 (8 KiB) fits every disk below; 128x128x64 int16 (2 MiB) fits none of them.
  small = join(inputs, 'small.nii.gz');
  big = join(inputs, 'big.nii.gz');
  const ramp = (n: number) => Int16Array.from({ length: n }, (_, i) => (i % 400) - 100);
  await writeNifti(small, createVolume(ramp(16 ** 3), [16, 16, 16], [1, 1, 1]));
  await writeNifti(big, createVolume(ramp(128 * 128 * 64), [128, 128, 64], [1, 1, 1]));
  model = join(inputs, 'model');
  const m = buildRAUNet('raunet1', { inputShape: [32, 32, 1], width: 0.25, seed: 3 });
  await saveModel(m, model, {
    arch: 'raunet1',
    width: 0.25,
    inputShape: [32, 32, 1],
    createdAt: '2026-01-01T00:00:00Z',
  });
  m.dispose();
  // the export's size, to size a disk that holds one export but not a second one beside it
  const probe = join(root, 'probe.onnx');
  onnxBytes = (await exportModelFolder(model, probe)).bytes;
  expect(statSync(probe).size).toBe(onnxBytes);
});

describe.skipIf(noTmpfs !== undefined)('a full disk (ENOSPC on a small tmpfs)', () => {
  it('convert and export --overwrite fail with one line; the earlier outputs stay, nothing half-written', () => {
    const disk = join(root, 'disk');
    const keep = join(root, 'keep');
    const log = join(root, 'log');
    for (const d of [disk, keep, log]) mkdirSync(d);
    const pages = (bytes: number) => Math.ceil(bytes / 4096) * 4;
    // Holds the small conversion and one export (1.5 exports of room), never the big volume or two exports.
    const sizeKiB = Math.max(pages(1.5 * onnxBytes) + 16, 64);
    expect(sizeKiB * 1024).toBeLessThan(2 * 128 * 128 * 64);
    expect(sizeKiB * 1024).toBeLessThan(2 * onnxBytes + 16 * 1024);
    const script = [
      'set -u',
      `mount -t tmpfs -o size=${sizeKiB}k raunet-full "$DISK" || exit 97`,
      'mkdir "$DISK/out"',
      step('small', `convert "${small}" "$DISK/out/earlier.nii"`),
      step('onnx', `export --model "${model}" --out "$DISK/out/model.onnx"`),
      'mkdir "$KEEP/before" && cp -a "$DISK/." "$KEEP/before/"',
      step('big', `convert "${big}" "$DISK/out/big.nii"`),
      step('onnx-again', `export --model "${model}" --out "$DISK/out/model.onnx" --overwrite`),
      'mkdir "$KEEP/after" && cp -a "$DISK/." "$KEEP/after/"',
    ].join('\n');
    const r = spawnSync('unshare', ['-Urm', 'sh', '-c', script], {
      env: { ...process.env, DISK: disk, KEEP: keep, LOG: log },
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(result(log, 'small').code).toBe(0);
    expect(result(log, 'onnx').code).toBe(0);

    const bigRun = result(log, 'big');
    expect(bigRun.code).toBe(1);
    oneLine(bigRun.err);
    expect(bigRun.err).toMatch(/out\/big\.nii: cannot write: no space left on device/);
    const again = result(log, 'onnx-again');
    expect(again.code).toBe(1);
    // (export loads tfjs, which prints its own banner about tfjs-node first; then our one line)
    oneLine(again.err.replace(/^=+\n.*tfjs-node.*\n=+\n/m, ''));
    expect(again.err).toMatch(/out\/model\.onnx: cannot write: no space left on device/);

    const before = snapshot(join(keep, 'before'));
    expect(Object.keys(before).sort()).toEqual(['out/earlier.nii', 'out/model.onnx']);
    // the earlier conversion and the earlier export, byte for byte; no temporary file left
    expect(snapshot(join(keep, 'after'))).toEqual(before);
  }, 180_000);
});

describe.skipIf(noTmpfs !== undefined)(
  'a full disk during a training checkpoint (ENOSPC on a small tmpfs)',
  () => {
    it('the earlier checkpoint stays whole, nothing is staged or half-moved', () => {
      const disk = join(root, 'ckpt-disk');
      const keep = join(root, 'ckpt-keep');
      const log = join(root, 'ckpt-log');
      for (const d of [disk, keep, log]) mkdirSync(d);
      // tmpfs counts whole 4 KiB pages per file: room for one checkpoint and a half, never two.
      const pages = readdirSync(model).reduce(
        (sum, f) => sum + Math.ceil(statSync(join(model, f)).size / 4096),
        0,
      );
      const sizeKiB = Math.ceil(pages * 1.5) * 4 + 8;
      // train-stage's checkpoint call, as a script: the same model saved twice through replaceModelFiles.
      const lib = (f: string) => JSON.stringify(join(REPO_ROOT, 'lib', f));
      const code = [
        `import { initBackend } from ${lib('model/backend.ts')};`,
        `import { loadModel, saveModel } from ${lib('model/storage.ts')};`,
        `import { replaceModelFiles } from ${lib('output/model-folder.ts')};`,
        "await initBackend('cpu', () => {});",
        'const { model, manifest } = await loadModel(process.env.MODEL);',
        "const dir = process.env.DISK + '/fold-0';",
        'const save = (note) => replaceModelFiles(dir, (staging) => saveModel(model, staging, { ...manifest, note }));',
        "await save('earlier');",
        "await import('node:child_process').then((cp) => cp.execFileSync('cp', ['-a', process.env.DISK + '/.', process.env.KEEP + '/before/']));",
        "try { await save('newer'); console.log('saved'); } catch (e) { console.log(e.message); }",
      ].join('\n');
      const script = [
        'set -u',
        `mount -t tmpfs -o size=${sizeKiB}k raunet-full "$DISK" || exit 97`,
        'mkdir "$KEEP/before" "$KEEP/after"',
        `"${process.execPath}" --import tsx --input-type=module -e "$CODE" >"$LOG/out" 2>"$LOG/err"; echo $? >"$LOG/code"`,
        'cp -a "$DISK/." "$KEEP/after/"',
      ].join('\n');
      const r = spawnSync('unshare', ['-Urm', 'sh', '-c', script], {
        cwd: REPO_ROOT,
        env: { ...process.env, DISK: disk, KEEP: keep, LOG: log, MODEL: model, CODE: code },
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect(r.status, r.stderr).toBe(0);
      const err = readFileSync(join(log, 'err'), 'utf8');
      expect(readFileSync(join(log, 'code'), 'utf8').trim(), err).toBe('0');
      const before = snapshot(join(keep, 'before'));
      expect(Object.keys(before).sort()).toEqual([
        'fold-0/manifest.json',
        'fold-0/model.json',
        'fold-0/weights.bin',
      ]);
      expect(JSON.parse(readFileSync(join(keep, 'after', 'fold-0', 'manifest.json'), 'utf8')).note).toBe(
        'earlier',
      );
      // the earlier checkpoint byte for byte, no staging folder, no temporary file
      expect(snapshot(join(keep, 'after'))).toEqual(before);
      expect(readFileSync(join(log, 'out'), 'utf8').trim()).toMatch(
        /fold-0\/manifest\.json: cannot write: no space left on device$/,
      );
    }, 180_000);
  },
);

describe('a file-size limit (EFBIG through RLIMIT_FSIZE)', () => {
  it('convert fails with one line, keeps the earlier output, leaves no partial file', () => {
    const dir = join(root, 'limited');
    mkdirSync(join(dir, 'out'), { recursive: true });
    const first = spawnSync('sh', ['-c', cli(`convert "${small}" "${join(dir, 'out', 'earlier.nii')}"`)], {
      encoding: 'utf8',
    });
    expect(first.status, first.stderr).toBe(0);
    const before = snapshot(dir);
    // 512 KiB (in 1 KiB or 512-byte blocks, by shell: either way above 8 KiB, below the 2 MiB output)
    const r = spawnSync(
      'sh',
      ['-c', `ulimit -f 1024 && exec ${cli(`convert "${big}" "${join(dir, 'out', 'big.nii')}"`)}`],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.status, r.stderr).toBe(1);
    oneLine(r.stderr);
    expect(r.stderr).toMatch(/out\/big\.nii: cannot write: file too large/);
    expect(snapshot(dir)).toEqual(before);
  }, 90_000);
});
