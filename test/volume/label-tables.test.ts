import { describe, expect, it } from 'vitest';
import { itkSnapLabelDescription, slicerColorTable } from '../../lib/volume/label-tables.ts';
import { LABELS } from '../../lib/volume/labels.ts';

/** Non-comment lines split on white space, as Slicer's colour table reader does. */
const slicerRows = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => l.trim().split(/\s+/));

/** ITK-SNAP rows: 7 numbers then a quoted name. */
const snapRows = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => {
      const m = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([01])\s+([01])\s+"([^"]*)"\s*$/.exec(l);
      if (!m) throw new Error(`not an ITK-SNAP label line: ${l}`);
      return [...m.slice(1, 8).map(Number), m[8]];
    });

describe('label tables', () => {
  it('3D Slicer colour table: background transparent, liver and tumour with their colours', () => {
    expect(slicerRows(slicerColorTable())).toEqual([
      ['0', 'Background', '0', '0', '0', '0'],
      ['1', 'Liver', '221', '130', '101', '255'],
      ['2', 'Liver_tumor', '255', '220', '0', '255'],
    ]);
  });

  it('ITK-SNAP label description: the same labels, names quoted', () => {
    expect(snapRows(itkSnapLabelDescription())).toEqual([
      [0, 0, 0, 0, 0, 0, 0, 'Background'],
      [1, 221, 130, 101, 1, 1, 1, 'Liver'],
      [2, 255, 220, 0, 1, 1, 1, 'Liver tumor'],
    ]);
  });

  it('follows the one LABELS definition (a new label shows up in both)', () => {
    const more = [
      ...LABELS,
      { ...LABELS[1], value: 3, name: 'Vessel "x"', color: [0, 0, 255] as [number, number, number] },
    ];
    expect(slicerRows(slicerColorTable(more))[3]).toEqual(['3', 'Vessel_"x"', '0', '0', '255', '255']);
    expect(snapRows(itkSnapLabelDescription(more))[3]).toEqual([3, 0, 0, 255, 1, 1, 1, "Vessel 'x'"]);
  });
});
