/**
 * Reading one case's input for `raunet segment`, as a result that never rejects: the read may run ahead
 * of its case (`lib/pipeline/read-ahead.ts`), so its warnings and its failure are kept and replayed when
 * the case's turn comes, in the order and with the lines a read at that moment would have given.
 */
import { type ReadOptions, readVolumeWithInfo, type VolumeWithInfo } from '../volume/read.ts';

/** How a case's input is read (default `readVolumeWithInfo`; tests observe or delay reads with it). */
export type InputReader = (path: string, opts: ReadOptions) => Promise<VolumeWithInfo>;

export interface CaseRead {
  /** The volume (and DICOM references), when the read succeeded. */
  input?: VolumeWithInfo;
  /** Why it failed (an InputError naming the file for bad input). */
  error?: unknown;
  /** Warnings the reader gave (lossy JPEG DICOM, ...), in order. */
  warnings: string[];
}

export async function readCaseInput(path: string, read: InputReader = readVolumeWithInfo): Promise<CaseRead> {
  const warnings: string[] = [];
  try {
    return { input: await read(path, { onWarning: (m) => warnings.push(m) }), warnings };
  } catch (error) {
    return { error, warnings };
  }
}

/** The case's volume, after printing the read's warnings; throws the read's error. */
export function openedInput(read: CaseRead, log: (line: string) => void): VolumeWithInfo {
  for (const w of read.warnings) log(`warning: ${w}`);
  if (!read.input) throw read.error;
  return read.input;
}
