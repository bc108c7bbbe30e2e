/**
 * A minimal protocol-buffers encoder: just what the ONNX writer needs (varint and length-delimited
 * fields, packed repeated scalars, nested messages). Messages are built as lists of byte chunks so that
 * large weight blobs are never copied until the final `finish()`.
 *
 * Wire format facts used here: a field key is `(fieldNumber << 3) | wireType`, wire type 0 is a
 * varint (7 bits per byte, least significant group first, high bit set on all but the last byte),
 * wire type 5 is 4 little-endian bytes, wire type 2 is a varint length followed by that many bytes. Negative int64 values are encoded as
 * their 64-bit two's complement (always 10 bytes).
 */
const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

const utf8 = new TextEncoder();

/** Varint bytes of a non-negative or negative 64-bit integer given as number or bigint. */
export function encodeVarint(value: number | bigint): Uint8Array {
  let v = typeof value === 'bigint' ? value : BigInt(value);
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new Error(`protobuf: varint value ${value} is not a safe integer`);
  }
  if (v < 0n) v = BigInt.asUintN(64, v);
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return Uint8Array.from(out);
}

export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;

  get length(): number {
    return this.size;
  }

  private push(bytes: Uint8Array): this {
    this.chunks.push(bytes);
    this.size += bytes.length;
    return this;
  }

  private key(field: number, wireType: number): this {
    return this.push(encodeVarint(field * 8 + wireType));
  }

  /** int32 / int64 / enum / bool field (wire type 0). */
  varint(field: number, value: number | bigint): this {
    return this.key(field, WIRE_VARINT).push(encodeVarint(value));
  }

  /** float field (wire type 5, little-endian IEEE 754 single precision). */
  float(field: number, value: number): this {
    return this.key(field, WIRE_FIXED32).push(float32LE([value]));
  }

  /** bytes field. */
  bytes(field: number, value: Uint8Array): this {
    return this.key(field, WIRE_LEN).push(encodeVarint(value.length)).push(value);
  }

  /** string field (UTF-8). */
  string(field: number, value: string): this {
    return this.bytes(field, utf8.encode(value));
  }

  /** Embedded message field: the nested writer's chunks are appended, not copied. */
  message(field: number, sub: ProtoWriter): this {
    this.key(field, WIRE_LEN).push(encodeVarint(sub.size));
    for (const c of sub.chunks) this.push(c);
    return this;
  }

  /** Packed repeated int64 field. */
  packedVarints(field: number, values: readonly (number | bigint)[]): this {
    const inner = new ProtoWriter();
    for (const v of values) inner.push(encodeVarint(v));
    return this.message(field, inner);
  }

  /** Packed repeated float field (little-endian IEEE 754 single precision). */
  packedFloats(field: number, values: ArrayLike<number>): this {
    return this.bytes(field, float32LE(values));
  }

  /** The encoded message as one contiguous array. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/** Little-endian float32 bytes of `values` (independent of the host's byte order). */
export function float32LE(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return out;
}

/** Little-endian int64 bytes of `values`. */
export function int64LE(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setBigInt64(i * 8, BigInt(values[i]!), true);
  return out;
}
