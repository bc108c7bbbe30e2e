import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { readDicomSeries } from '../../lib/volume/dicom.ts';
import { encodeNifti } from '../../lib/volume/nifti.ts';
import { decodeVolumeBytes, readVolume } from '../../lib/volume/read.ts';
import { createVolume } from '../../lib/volume/volume.ts';
import { SHARED_DATA } from './helpers.ts';

const threeSlice = join(SHARED_DATA, 'dicom/ct-3slice');

describe('readVolume / decodeVolumeBytes', () => {
  it('reads a NIfTI file and a DICOM folder', async () => {
    expect((await readVolume(join(SHARED_DATA, 'ct/example_ct_liver.nii.gz'))).dims).toEqual([122, 101, 112]);
    expect((await readVolume(threeSlice)).dims).toEqual([512, 512, 3]);
    await expect(readVolume(join(SHARED_DATA, 'nope'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('decodes .nii and .nii.gz bytes', async () => {
    const vol = createVolume(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), [2, 2, 2], [2, 2, 2]);
    for (const gzip of [false, true]) {
      const back = await decodeVolumeBytes('mask.nii', encodeNifti(vol, { gzip }));
      expect(Array.from(back.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(back.affine).toEqual(vol.affine);
    }
  });

  it('decodes a zip of a DICOM series (in a sub-folder, with junk) like the folder itself', async () => {
    const entries: Record<string, Uint8Array> = { 'README.txt': new TextEncoder().encode('hello') };
    for (const f of ['01.dcm', '02.dcm', '03.dcm'])
      entries[`series/${f}`] = await readFile(join(threeSlice, f));
    const fromDir = await readDicomSeries(threeSlice);
    for (const level of [0, 6] as const) {
      const zip = zipSync(entries, { level });
      const fromZip = await decodeVolumeBytes('upload.zip', zip);
      expect(fromZip.affine).toEqual(fromDir.affine);
      expect(Array.from(fromZip.data)).toEqual(Array.from(fromDir.data));
      await expect(decodeVolumeBytes('cut.zip', zip.subarray(0, zip.length - 40))).rejects.toMatchObject({
        code: 'TRUNCATED',
        message: expect.stringMatching(/^cut\.zip: truncated/),
      });
    }
    // a single DICOM file is a one-slice series
    const one = await decodeVolumeBytes('01.dcm', entries['series/01.dcm']);
    expect(one.dims).toEqual([512, 512, 1]);
  });

  it('caps what a zip may decompress to', async () => {
    const zip = zipSync({
      'a.dcm': new Uint8Array(4 * 1024 * 1024),
      'b.dcm': new Uint8Array(4 * 1024 * 1024),
    });
    expect(zip.length).toBeLessThan(100 * 1024);
    await expect(
      decodeVolumeBytes('bomb.zip', zip, { maxDecompressedBytes: 6 * 1024 * 1024 }),
    ).rejects.toMatchObject({
      code: 'TOO_LARGE',
      message: expect.stringMatching(/bomb\.zip: decompresses to more than the cap of 6 MiB/),
    });
    // under the cap it inflates, then is refused for what it is: no DICOM inside
    await expect(decodeVolumeBytes('zeros.zip', zip)).rejects.toMatchObject({ code: 'BAD_SERIES' });
  });
});
