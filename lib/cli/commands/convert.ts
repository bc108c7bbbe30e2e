/** `raunet convert <input> <output.nii[.gz]>`: any readable volume to NIfTI-1, same geometry and values. */
import type { Command } from 'commander';
import { InputError } from '../../errors.ts';
import { orientationCode } from '../../volume/affine.ts';
import { writeNifti } from '../../volume/nifti.ts';
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
    .action(async (input: string, output: string, opts: { maxDecompressedBytes?: string }) => {
      if (!/\.nii(\.gz)?$/i.test(output)) {
        throw new InputError('output must end in .nii or .nii.gz', 'BAD_ARGUMENT', output);
      }
      const vol = await readVolume(input, readOptionsFrom(opts));
      await writeNifti(output, vol);
      const dtype = vol.data.constructor.name.replace('Array', '').toLowerCase();
      process.stdout.write(
        `wrote ${output}: ${vol.dims.join('x')} ${dtype} ${orientationCode(vol.affine)}\n`,
      );
    });
}
