/** `raunet info <file|dicom-dir> [--json]`: geometry, datatype and intensity range of a volume. */
import type { Command } from 'commander';
import { orientationCode } from '../../volume/affine.ts';
import { readVolume } from '../../volume/read.ts';
import type { Volume } from '../../volume/volume.ts';
import { readOptionsFrom } from './io-options.ts';

export interface VolumeInfo {
  dims: number[];
  spacing: number[];
  dtype: string;
  orientation: string;
  min: number;
  max: number;
  /** 4x4, row-major, as nested rows. */
  affine: number[][];
}

export function volumeInfo(vol: Volume): VolumeInfo {
  let min = Infinity;
  let max = -Infinity;
  const d = vol.data;
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return {
    dims: [...vol.dims],
    spacing: [...vol.spacing],
    dtype: vol.dtype,
    orientation: orientationCode(vol.affine),
    min,
    max,
    affine: [0, 1, 2, 3].map((r) => vol.affine.slice(r * 4, r * 4 + 4)),
  };
}

const fmt = (x: number) => String(+x.toPrecision(6));

export function formatInfo(path: string, info: VolumeInfo): string {
  return [
    `file:        ${path}`,
    `dims:        ${info.dims.join(' x ')}`,
    `spacing:     ${info.spacing.map(fmt).join(' x ')} mm`,
    `dtype:       ${info.dtype}`,
    `orientation: ${info.orientation}`,
    `range:       ${fmt(info.min)} .. ${fmt(info.max)}`,
    'affine:',
    ...info.affine.map((row) => `  ${row.map((v) => fmt(v).padStart(12)).join(' ')}`),
    '',
  ].join('\n');
}

export function register(program: Command): void {
  program
    .command('info')
    .description(
      'print dims, spacing, datatype, orientation and intensity range of a NIfTI file or DICOM folder',
    )
    .argument('<input>', '.nii, .nii.gz, a folder of one DICOM series, or a .zip of one')
    .option('--json', 'print one JSON object (dims, spacing, dtype, orientation, min, max, affine)')
    .option('--max-decompressed-bytes <n>', 'refuse inputs that decompress to more (default 4 GiB)')
    .action(async (input: string, opts: { json?: boolean; maxDecompressedBytes?: string }) => {
      const info = volumeInfo(await readVolume(input, readOptionsFrom(opts)));
      process.stdout.write(opts.json ? `${JSON.stringify(info)}\n` : formatInfo(input, info));
    });
}
