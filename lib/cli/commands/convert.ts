/**
 * `raunet convert <input> <output>`: any readable volume to NIfTI-1 (`.nii`, `.nii.gz`), NRRD (`.nrrd`,
 * `.nhdr` + data file) or MetaImage (`.mha`, `.mhd` + data file), same geometry and values.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../errors.ts';
import {
  checkOutputTargets,
  OutputBatch,
  prepareOutputFolder,
  releaseOutputFolder,
} from '../../output/safe-output.ts';
import { orientationCode } from '../../volume/affine.ts';
import { detachedDataFileOf } from '../../volume/nrrd-mha.ts';
import { readVolume } from '../../volume/read.ts';
import {
  detachedDataPath,
  encodeVolumeFiles,
  isWritableVolumeName,
  WRITABLE_SUFFIXES,
} from '../../volume/write-formats.ts';
import { readOptionsFrom } from './io-options.ts';

/** The data file a detached `.nhdr` / `.mhd` input names (beside it), if any. */
async function detachedInputData(input: string): Promise<string[]> {
  if (!/\.(nhdr|mhd)$/i.test(input)) return [];
  const head = await readFile(input).catch(() => undefined);
  const file = head && detachedDataFileOf(new Uint8Array(head));
  return file ? [join(dirname(input), file)] : [];
}

export function register(program: Command): void {
  program
    .command('convert')
    .description(
      'convert a volume (NIfTI, DICOM series, NRRD, MetaImage) to NIfTI, NRRD or MetaImage, keeping geometry and values',
    )
    .argument(
      '<input>',
      '.nii[.gz], .nrrd, .nhdr, .mha, .mhd, a folder of one DICOM series, or a .zip of one',
    )
    .argument(
      '<output>',
      `output path ending in ${WRITABLE_SUFFIXES.join(', ')} (.nhdr/.mhd: with a data file beside)`,
    )
    .option('--max-decompressed-bytes <n>', 'refuse inputs that decompress to more (default 4 GiB)')
    .option('--no-compress', 'NRRD / MetaImage: store the voxels uncompressed (default gzip / zlib)')
    .option('--overwrite', 'replace an existing output file (never the input)')
    .action(
      async (
        input: string,
        output: string,
        opts: { maxDecompressedBytes?: string; overwrite?: boolean; compress?: boolean },
      ) => {
        if (!isWritableVolumeName(output)) {
          throw new InputError(`output must end in ${WRITABLE_SUFFIXES.join(', ')}`, 'BAD_ARGUMENT', output);
        }
        const readOpts = readOptionsFrom(opts);
        const compress = opts.compress ?? true;
        const dataPath = detachedDataPath(output, compress);
        const targets = dataPath ? [output, dataPath] : [output];
        // a detached input's data file is an input too: never written over, even with --overwrite
        const inputs = [input, ...(await detachedInputData(input))];
        await checkOutputTargets(targets, { overwrite: opts.overwrite, inputs });
        const folder = await prepareOutputFolder(dirname(output));
        try {
          const vol = await readVolume(input, readOpts);
          let files: Array<[string, Uint8Array]>;
          try {
            files = encodeVolumeFiles(output, vol, { compress });
          } catch (e) {
            // NIfTI-1 limits (dims up to 32767) that a NIfTI-2 or DICOM input can exceed.
            if (!(e instanceof RangeError)) throw e;
            const format = /\.nii(\.gz)?$/i.test(output)
              ? 'NIfTI-1'
              : /\.(nrrd|nhdr)$/i.test(output)
                ? 'NRRD'
                : 'MetaImage';
            throw new InputError(`cannot be written as ${format}: ${e.message}`, 'UNSUPPORTED', input);
          }
          // a detached header and its data file appear together or not at all
          const out = new OutputBatch({ overwrite: opts.overwrite });
          for (const [path, bytes] of files) await out.write(path, bytes);
          await out.commit();
          const dtype = vol.data.constructor.name.replace('Array', '').toLowerCase();
          process.stdout.write(
            `wrote ${files.map(([p]) => p).join(' + ')}: ${vol.dims.join('x')} ${dtype} ${orientationCode(vol.affine)}\n`,
          );
        } finally {
          await releaseOutputFolder(folder);
        }
      },
    );
}
