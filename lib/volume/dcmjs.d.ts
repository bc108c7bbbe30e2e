// Minimal typings of the parts of dcmjs (which ships none) that lib/volume/dicom-seg.ts uses.
declare module 'dcmjs' {
  /** A naturalized data set: DICOM keywords -> values (sequences are arrays of data sets). */
  export type NaturalDataset = Record<string, unknown>;
  interface DicomDictInstance {
    meta: Record<string, unknown>;
    dict: Record<string, unknown>;
    write(options?: Record<string, unknown>): ArrayBuffer;
  }
  const dcmjs: {
    data: {
      DicomMessage: {
        readFile(buffer: ArrayBuffer, options?: Record<string, unknown>): DicomDictInstance;
      };
      DicomMetaDictionary: {
        naturalizeDataset(dict: Record<string, unknown>): NaturalDataset;
        denaturalizeDataset(ds: NaturalDataset): Record<string, unknown>;
        uid(): string;
        date(): string;
        time(): string;
      };
      Colors: {
        rgb2DICOMLAB(rgb: number[]): number[];
        dicomlab2RGB(lab: number[]): number[];
      };
      datasetToDict(ds: NaturalDataset): DicomDictInstance;
    };
  };
  export default dcmjs;
}
