/** `raunet convert <input> <output.nii[.gz]>`: any readable volume to NIfTI-1, same geometry and values. */
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../errors.ts';
import {
  checkOutputTargets,
  OutputBatch,
  prepareOutputFolder,
  releaseOutputFolder,
} from '../../output/safe-output.ts';
import { orientationCode } from '../../volume/affine.ts';
import { encodeNifti } from '../../volume/nifti.ts';
import { readVolume } from '../../volume/read.ts';
import { readOptionsFrom } from './io-options.ts';

export function register(program: Command): void {
  program
    .command('convert')
    .description(
      'convert a NIfTI file or DICOM series to NIfTI (.nii or .nii.gz), keeping geometry and values',
    )
    .argument('<input>', '.nii, .nii.gz, a folder of one DICOM series, or a .zip of one')
    .argument('<output>', 'output path ending in .nii or .nii.gz (gzip)')
    .option('--max-decompressed-bytes <n>', 'refuse inputs that decompress to more (default 4 GiB)')
    .option('--overwrite', 'replace an existing output file (never the input)')
    .action(
      async (input: string, output: string, opts: { maxDecompressedBytes?: string; overwrite?: boolean }) => {
        if (!/\.nii(\.gz)?$/i.test(output)) {
          throw new InputError('output must end in .nii or .nii.gz', 'BAD_ARGUMENT', output);
        }
        const readOpts = readOptionsFrom(opts);
        await checkOutputTargets([output], { overwrite: opts.overwrite, inputs: [input] });
        const folder = await prepareOutputFolder(dirname(output));
        try {
          const vol = await readVolume(input, readOpts);
          let bytes: Uint8Array;
          try {
            bytes = encodeNifti(vol, { gzip: /\.gz$/i.test(output) });
          } catch (e) {
            // NIfTI-1 limits (dims up to 32767) that a NIfTI-2 or DICOM input can exceed.
            if (!(e instanceof RangeError)) throw e;
            throw new InputError(`cannot be written as NIfTI-1: ${e.message}`, 'UNSUPPORTED', input);
          }
          const out = new OutputBatch({ overwrite: opts.overwrite });
          await out.write(output, bytes);
          await out.commit();
          const dtype = vol.data.constructor.name.replace('Array', '').toLowerCase();
          process.stdout.write(
            `wrote ${output}: ${vol.dims.join('x')} ${dtype} ${orientationCode(vol.affine)}\n`,
          );
        } finally {
          await releaseOutputFolder(folder);
        }
      },
    );
}
