import { describe, expect, it } from 'vitest';
import { encodeVarint, float32LE, ProtoWriter } from '../../lib/inference/onnx/protobuf.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('protobuf writer', () => {
  it('encodes varints 7 bits at a time, low group first', () => {
    expect(hex(encodeVarint(0))).toBe('00');
    expect(hex(encodeVarint(1))).toBe('01');
    expect(hex(encodeVarint(127))).toBe('7f');
    expect(hex(encodeVarint(128))).toBe('8001');
    expect(hex(encodeVarint(300))).toBe('ac02');
    expect(hex(encodeVarint(2 ** 35))).toBe('8080808080' + '01');
  });

  it('encodes negative int64 as ten-byte two complement', () => {
    expect(hex(encodeVarint(-1))).toBe('ffffffffffffffffff01');
    expect(hex(encodeVarint(-2n))).toBe('feffffffffffffffff01');
  });

  it('writes field keys, strings, floats and nested messages as the wire format specifies', () => {
    // field 1 varint 150: key 0x08, value 0x96 0x01
    expect(hex(new ProtoWriter().varint(1, 150).finish())).toBe('089601');
    // field 2 string "testing": key 0x12, length 7, UTF-8 bytes
    expect(hex(new ProtoWriter().string(2, 'testing').finish())).toBe('120774657374696e67');
    // field 3 embedded message {1: 150}: key 0x1a, length 3
    expect(hex(new ProtoWriter().message(3, new ProtoWriter().varint(1, 150)).finish())).toBe('1a03089601');
    // field 2 float 1.0: key 0x15 (wire type 5), 0x3f800000 little-endian
    expect(hex(new ProtoWriter().float(2, 1).finish())).toBe('150000803f');
    // field 4 packed [3, 270]: key 0x22, length 3, 03 8e 02
    expect(hex(new ProtoWriter().packedVarints(4, [3, 270]).finish())).toBe('2203038e02');
  });

  it('keeps track of the length across nested chunks', () => {
    const inner = new ProtoWriter().string(1, 'ab').varint(2, 1);
    const outer = new ProtoWriter().message(7, inner).varint(1, 8);
    expect(inner.length).toBe(6);
    expect(outer.length).toBe(2 + 6 + 2);
    expect(hex(outer.finish())).toBe('3a060a026162100108' + '08');
  });

  it('writes float32 little-endian whatever the host order', () => {
    expect(hex(float32LE([1, -2]))).toBe('0000803f000000c0');
  });
});
