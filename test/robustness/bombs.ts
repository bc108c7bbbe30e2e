/** The bomb cases of the robustness tests and bench: each inflates to gigabytes from a few MB. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { deflateZeros, gzipBomb, nifti, zipArchive } from './inputs.ts';

const GiB = 1024 ** 3;

export interface Bomb {
  what: string;
  file: string;
  make: () => Uint8Array;
  /** What the one-line refusal says. */
  message: RegExp;
}

/** A DICOM-looking start: 128-byte preamble and `DICM`, so the entry is not skipped as a non-DICOM file. */
const dicmHead = () => {
  const b = new Uint8Array(132);
  b.set([0x44, 0x49, 0x43, 0x4d], 128);
  return deflateRawSync(b, { finishFlush: 3 /* Z_FULL_FLUSH */ });
};

export const BOMBS: Bomb[] = [
  {
    what: 'gzip: 2 GiB of zeros, no NIfTI header',
    file: 'zeros.nii.gz',
    make: () => gzipBomb(new Uint8Array(0), 2 * GiB),
    message: /zeros\.nii\.gz: not a NIfTI file/,
  },
  {
    what: 'gzip: a valid 4x4x4 NIfTI followed by 2 GiB of zeros',
    file: 'header-then-zeros.nii.gz',
    make: () => gzipBomb(nifti(new Uint8Array(64), [4, 4, 4]), 2 * GiB),
    message: /header-then-zeros\.nii\.gz: dims 4x4x4 of uint8 .*stopped inflating/,
  },
  {
    what: 'zip: 5 entries declaring 1 GiB each (over the 4 GiB cap)',
    file: 'five-gib.zip',
    make: () => {
      const deflated = deflateZeros(GiB);
      return zipArchive(
        Array.from({ length: 5 }, (_, i) => ({ name: `IM${i}.dcm`, deflated, declaredSize: GiB })),
      );
    },
    message: /five-gib\.zip: decompresses to more than the cap of 4 GiB/,
  },
  {
    what: 'zip: a DICOM-looking entry declaring 1 KiB that inflates to 1 GiB',
    file: 'lying-entry.zip',
    make: () => {
      const deflated = Buffer.concat([dicmHead(), deflateZeros(GiB)]);
      return zipArchive([{ name: 'IM0.dcm', deflated, declaredSize: 1024 }]);
    },
    message: /lying-entry\.zip: zip entry IM0\.dcm inflates to more than the 1024 bytes the archive declares/,
  },
  {
    what: 'zip: 3 GiB of zeros declared honestly (under the cap), not DICOM',
    file: 'zeros.zip',
    make: () => {
      const deflated = deflateZeros(GiB);
      return zipArchive(
        Array.from({ length: 3 }, (_, i) => ({ name: `IM${i}.dcm`, deflated, declaredSize: GiB })),
      );
    },
    message: /zeros\.zip: no DICOM files/,
  },
];

export function writeBomb(dir: string, b: Bomb): string {
  const file = join(dir, b.file);
  writeFileSync(file, b.make());
  return file;
}
