/**
 * DICOM RLE Lossless (transfer syntax 1.2.840.10008.1.2.5, PS3.5 annex G): a 64-byte header of segment
 * offsets, one PackBits-coded segment per byte plane (most significant byte first).
 */

/** Decode one RLE frame of `count` samples of `bytesPerSample` bytes into little-endian sample bytes. */
export function decodeRleFrame(frame: Uint8Array, count: number, bytesPerSample: number): Uint8Array {
  if (frame.length < 64) throw new Error(`RLE frame of ${frame.length} bytes has no 64-byte header`);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const segments = view.getUint32(0, true);
  if (segments !== bytesPerSample) {
    throw new Error(
      `RLE frame has ${segments} segments, expected ${bytesPerSample} (one per byte of a sample)`,
    );
  }
  const out = new Uint8Array(count * bytesPerSample);
  for (let seg = 0; seg < segments; seg++) {
    const start = view.getUint32(4 + 4 * seg, true);
    const end = seg + 1 < segments ? view.getUint32(8 + 4 * seg, true) : frame.length;
    if (start < 64 || end > frame.length || start > end)
      throw new Error(`RLE segment ${seg} lies outside the frame`);
    // Segment 0 holds the most significant bytes; little-endian output puts them last.
    const byteIndex = bytesPerSample - 1 - seg;
    let at = start;
    let n = 0;
    while (n < count && at < end) {
      const h = (frame[at++] << 24) >> 24; // signed header byte
      if (h >= 0) {
        for (let r = 0; r <= h && n < count; r++) out[n++ * bytesPerSample + byteIndex] = frame[at++];
      } else if (h !== -128) {
        const v = frame[at++];
        for (let r = 0; r < 1 - h && n < count; r++) out[n++ * bytesPerSample + byteIndex] = v;
      }
    }
    if (n < count) throw new Error(`RLE segment ${seg} decodes to ${n} of ${count} samples`);
  }
  return out;
}
