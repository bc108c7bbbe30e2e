/**
 * The label values of every label map the project writes, defined once: value, name, display colour and
 * the coded concepts (SNOMED CT) that DICOM SEG segments, viewer colour tables and reports use.
 *
 * Codes as dcmqi / 3D Slicer's terminology files use them for these structures:
 * - liver: category SCT 123037004 "Anatomical Structure", type SCT 10200004 "Liver";
 * - liver tumour: category SCT 49755003 "Morphologically Altered Structure", type SCT 108369006
 *   "Neoplasm", anatomic region SCT 10200004 "Liver" (the way dcmqi's examples code a lesion of an organ).
 * Colours: the liver's is 3D Slicer's GenericAnatomyColors "liver" (221, 130, 101); the tumour's is our
 * choice, a yellow that stands out on the liver.
 */

export interface CodedConcept {
  /** CodeValue */
  value: string;
  /** CodingSchemeDesignator */
  scheme: 'SCT';
  /** CodeMeaning */
  meaning: string;
}

export interface LabelDefinition {
  /** Voxel value in the label map. */
  value: number;
  /** Short machine name (report keys, file names). */
  key: 'liver' | 'tumor';
  /** Display name (SegmentLabel, colour tables). */
  name: string;
  /** Recommended display colour, sRGB 0..255. */
  color: [number, number, number];
  category: CodedConcept;
  type: CodedConcept;
  anatomicRegion?: CodedConcept;
}

const LIVER: CodedConcept = { value: '10200004', scheme: 'SCT', meaning: 'Liver' };

export const LABELS: readonly LabelDefinition[] = [
  {
    value: 1,
    key: 'liver',
    name: 'Liver',
    color: [221, 130, 101],
    category: { value: '123037004', scheme: 'SCT', meaning: 'Anatomical Structure' },
    type: LIVER,
  },
  {
    value: 2,
    key: 'tumor',
    name: 'Liver tumor',
    color: [255, 220, 0],
    category: { value: '49755003', scheme: 'SCT', meaning: 'Morphologically Altered Structure' },
    type: { value: '108369006', scheme: 'SCT', meaning: 'Neoplasm' },
    anatomicRegion: LIVER,
  },
];

export function labelByValue(value: number): LabelDefinition | undefined {
  return LABELS.find((l) => l.value === value);
}
