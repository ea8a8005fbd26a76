import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectModelFileError as expectError } from './model-file-error.ts';
import { noTorch, PYTHON } from './python.ts';
import {
  bf16ArrayToF32,
  bf16ToF32,
  f16ArrayToF32,
  f16BitsToF32Bits,
  f16ToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  readSafetensors,
  writeSafetensors,
  type TensorInput,
} from '../src/model/safetensors.ts';

/** A file from a raw header (object -> JSON, or a string / bytes as is) and a data section. */
function craft(header: unknown, data: Uint8Array = new Uint8Array(0), headerLen?: number): Uint8Array {
  const json = header instanceof Uint8Array ? header : new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  const view = new DataView(out.buffer);
  const len = headerLen ?? json.length;
  view.setUint32(0, len % 2 ** 32, true);
  view.setUint32(4, Math.floor(len / 2 ** 32), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

const L = 'crafted.safetensors';
const ONE = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };

describe('f16 / bf16 conversion', () => {
  it('decodes known f16 bit patterns exactly', () => {
    const cases: Array<[number, number]> = [
      [0x0000, 0],
      [0x3c00, 1],
      [0xc000, -2],
      [0x3555, 0.333251953125],
      [0x7bff, 65504],
      [0x0400, 2 ** -14], // smallest normal
      [0x0001, 2 ** -24], // smallest subnormal
      [0x03ff, 1023 * 2 ** -24], // largest subnormal
      [0x8001, -(2 ** -24)],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
    ];
    for (const [bits, want] of cases) {
      expect(f16ToF32(bits), bits.toString(16)).toBe(want);
      expect(f16ArrayToF32(new Uint16Array([bits]))[0], bits.toString(16)).toBe(want);
    }
    expect(Object.is(f16ToF32(0x8000), -0)).toBe(true);
    expect(Object.is(f16ArrayToF32(new Uint16Array([0x8000]))[0], -0)).toBe(true);
    expect(f16ToF32(0x7e00)).toBeNaN();
    expect(f16ToF32(0xfc01)).toBeNaN();
    // f32 bit patterns, NaN payload kept
    expect(f16BitsToF32Bits(0x3c00)).toBe(0x3f800000);
    expect(f16BitsToF32Bits(0x0001)).toBe(0x33800000);
    expect(f16BitsToF32Bits(0x03ff)).toBe(0x387fc000);
    expect(f16BitsToF32Bits(0x7e00)).toBe(0x7fc00000);
    expect(f16BitsToF32Bits(0xfd01)).toBe(0xffa02000);
  });

  it('agrees between the scalar, bit and table paths for all 65536 f16 patterns, and round-trips', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const wide = f16ArrayToF32(all);
    const bits = new Uint32Array(wide.buffer);
    const bad: string[] = [];
    let nans = 0;
    for (let h = 0; h < 65536; h++) {
      if (bits[h] !== f16BitsToF32Bits(h)) bad.push(`table ${h.toString(16)}`);
      const v = f16ToF32(h);
      if (Number.isNaN(v)) {
        nans++;
        if (!Number.isNaN(wide[h]) || (f32ToF16Bits(v) & 0x7e00) !== 0x7e00) bad.push(`NaN ${h.toString(16)}`); // a quiet NaN comes back
      } else {
        if (!Object.is(wide[h], v)) bad.push(`value ${h.toString(16)}: ${wide[h]} vs ${v}`);
        if (f32ToF16Bits(v) !== h) bad.push(`round trip ${h.toString(16)} -> ${v} -> ${f32ToF16Bits(v).toString(16)}`);
      }
    }
    expect(bad.slice(0, 5)).toEqual([]);
    expect(nans).toBe(2 * 1023);
  });

  it('rounds f32 to f16 to nearest, ties to even', () => {
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie, down to even
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, up to even
    expect(f32ToF16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
    expect(f32ToF16Bits(65519)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // rounds up to inf
    expect(f32ToF16Bits(-1e9)).toBe(0xfc00);
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // tie between 0 and the smallest subnormal
    expect(f32ToF16Bits(1.5 * 2 ** -25)).toBe(0x0001);
    expect(f32ToF16Bits(1.5 * 2 ** -24)).toBe(0x0002); // tie, up to even
    expect(f32ToF16Bits(2 ** -14 - 2 ** -26)).toBe(0x0400); // subnormal rounding carries into the smallest normal
    expect(f32ToF16Bits(-0)).toBe(0x8000);
    expect(f32ToF16Bits(1e-30)).toBe(0x0000);
  });

  it('decodes known bf16 bit patterns exactly', () => {
    const cases: Array<[number, number]> = [
      [0x3f80, 1],
      [0x4049, 3.140625],
      [0xc2f7, -123.5],
      [0x0001, 2 ** -133], // smallest subnormal
      [0x0080, 2 ** -126], // smallest normal
      [0x7f7f, 3.3895313892515355e38], // largest finite
      [0x7f80, Infinity],
      [0xff80, -Infinity],
    ];
    for (const [bits, want] of cases) {
      expect(bf16ToF32(bits), bits.toString(16)).toBe(want);
      expect(bf16ArrayToF32(new Uint16Array([bits]))[0], bits.toString(16)).toBe(want);
    }
    expect(Object.is(bf16ToF32(0x8000), -0)).toBe(true);
    expect(bf16ToF32(0x7fc0)).toBeNaN();
    const all = new Uint16Array(65536).map((_, i) => i);
    const wide = bf16ArrayToF32(all);
    const bad: string[] = [];
    for (let h = 0; h < 65536; h++) {
      const v = wide[h];
      if (Number.isNaN(v)) continue;
      if (!Object.is(v, bf16ToF32(h))) bad.push(`value ${h.toString(16)}`);
      if (f32ToBf16Bits(v) !== h) bad.push(`round trip ${h.toString(16)} -> ${v} -> ${f32ToBf16Bits(v).toString(16)}`);
    }
    expect(bad.slice(0, 5)).toEqual([]);
  });

  it('rounds f32 to bf16 to nearest, ties to even', () => {
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80);
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(f32ToBf16Bits(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81);
    expect(f32ToBf16Bits(3.4e38)).toBe(0x7f80); // rounds up to inf
    expect(f32ToBf16Bits(NaN) & 0x7fc0).toBe(0x7fc0);
  });
});

describe('writeSafetensors / readSafetensors round trip', () => {
  const all: TensorInput[] = [
    { name: 'mask', dtype: 'BOOL', shape: [2, 2], data: [1, 0, 0, 7] },
    { name: 'w', dtype: 'F32', shape: [2, 3], data: new Float32Array([1.5, -2, 3.25, 0.1, 1e-40, Infinity]) },
    { name: 'h', dtype: 'F16', shape: [3], data: [1, -0.333251953125, 65504] },
    { name: 'b', dtype: 'BF16', shape: [2], data: [3.140625, -1e38] },
    { name: 'd', dtype: 'F64', shape: [2], data: [0.1, -1e300] },
    { name: 'ids', dtype: 'I64', shape: [1, 4], data: [0, -1, 2147483647, -2147483648] },
    { name: 'i32', dtype: 'I32', shape: [2], data: [7, -7] },
    { name: 'i8', dtype: 'I8', shape: [3], data: [-128, 127, -1] },
    { name: 'u8', dtype: 'U8', shape: [3], data: [0, 255, 3] },
    { name: 'scalar', dtype: 'F32', shape: [], data: [2.5] },
    { name: 'empty', dtype: 'F32', shape: [0, 3], data: [] },
  ];

  it('round-trips every dtype, metadata and shapes including scalars and empty tensors', () => {
    const bytes = writeSafetensors(all, { attnscope: '{"a":1}', note: 'héllo' });
    const file = readSafetensors(bytes, 'rt');
    expect(file.metadata).toEqual({ attnscope: '{"a":1}', note: 'héllo' });
    expect(file.notes).toEqual([]);
    expect([...file.tensors.keys()].sort()).toEqual(all.map((t) => t.name).sort());
    const get = (n: string) => file.tensors.get(n)!;
    expect(get('w').data).toEqual(new Float32Array([1.5, -2, 3.25, 0.1, 1e-40, Infinity]));
    expect(get('w').data).toBeInstanceOf(Float32Array);
    expect(get('w').shape).toEqual([2, 3]);
    expect(Array.from(get('h').data)).toEqual([1, -0.333251953125, 65504]);
    expect(Array.from(get('b').data)).toEqual([3.140625, bf16ToF32(f32ToBf16Bits(-1e38))]);
    expect(Array.from(get('d').data)).toEqual([Math.fround(0.1), -Infinity]);
    expect(get('ids').data).toEqual(new Int32Array([0, -1, 2147483647, -2147483648]));
    expect(get('i32').data).toEqual(new Int32Array([7, -7]));
    expect(get('i8').data).toEqual(new Int32Array([-128, 127, -1]));
    expect(get('u8').data).toEqual(new Uint8Array([0, 255, 3]));
    expect(get('mask').data).toEqual(new Uint8Array([1, 0, 0, 1]));
    expect(get('scalar')).toMatchObject({ dtype: 'F32', shape: [] });
    expect(Array.from(get('scalar').data)).toEqual([2.5]);
    expect(get('empty')).toMatchObject({ dtype: 'F32', shape: [0, 3] });
    expect(get('empty').data.length).toBe(0);
    for (const t of all) expect(get(t.name).dtype).toBe(t.dtype);
  });

  it('lays the file out as Python safetensors does: space padding to 8, contiguous, aligned, largest dtype first', () => {
    const bytes = writeSafetensors(all, { k: 'v' });
    const view = new DataView(bytes.buffer);
    const n = view.getUint32(0, true);
    expect(view.getUint32(4, true)).toBe(0);
    expect((8 + n) % 8).toBe(0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(text.trimEnd().endsWith('}')).toBe(true);
    expect(/^ *$/.test(text.slice(text.trimEnd().length))).toBe(true);
    const header = JSON.parse(text) as Record<string, { dtype: string; data_offsets: [number, number] }>;
    const entries = Object.entries(header)
      .filter(([k]) => k !== '__metadata__')
      .map(([, v]) => v)
      .sort((a, b) => a.data_offsets[0] - b.data_offsets[0] || a.data_offsets[1] - b.data_offsets[1]);
    let at = 0;
    const size: Record<string, number> = { F64: 8, I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2, U8: 1, BOOL: 1, I8: 1 };
    let lastSize = 8;
    for (const e of entries) {
      expect(e.data_offsets[0]).toBe(at); // contiguous: the Rust reader rejects gaps
      expect(e.data_offsets[0] % size[e.dtype]).toBe(0);
      expect(size[e.dtype]).toBeLessThanOrEqual(lastSize);
      lastSize = size[e.dtype];
      at = e.data_offsets[1];
    }
    expect(8 + n + at).toBe(bytes.length);
  });

  it('takes a Map, omits __metadata__ when none is given, and keeps the given order within a dtype', () => {
    const m = new Map([
      ['z', { dtype: 'F32' as const, shape: [1], data: [1] }],
      ['a', { dtype: 'F32' as const, shape: [1], data: [2] }],
    ]);
    const bytes = writeSafetensors(m);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + new DataView(bytes.buffer).getUint32(0, true)));
    expect(text).not.toContain('__metadata__');
    const file = readSafetensors(bytes);
    expect([...file.tensors.keys()]).toEqual(['z', 'a']);
    expect(file.metadata).toEqual({});
  });

  it('reads from an unaligned view into a larger buffer and copies the data out', () => {
    const bytes = writeSafetensors([{ name: 'x', dtype: 'F32', shape: [3], data: [1, 2, 3] }, { name: 'h', dtype: 'F16', shape: [1], data: [0.5] }]);
    const big = new Uint8Array(bytes.length + 3);
    big.set(bytes, 3);
    const file = readSafetensors(big.subarray(3), 'offset');
    expect(Array.from(file.tensors.get('x')!.data)).toEqual([1, 2, 3]);
    expect(Array.from(file.tensors.get('h')!.data)).toEqual([0.5]);
    big.fill(0);
    expect(Array.from(file.tensors.get('x')!.data)).toEqual([1, 2, 3]);
  });

  it('copies out of a Node Buffer (whose slice() is a view) into a pooled allocation', () => {
    const bytes = writeSafetensors([
      { name: 'x', dtype: 'F32', shape: [3], data: [1, 2, 3] },
      { name: 'm', dtype: 'BOOL', shape: [2], data: [1, 0] },
    ]);
    const buf = Buffer.from(bytes); // small Buffers share one pooled ArrayBuffer at a nonzero offset
    const file = readSafetensors(buf, 'buffer');
    expect(file.tensors.get('x')!.data).toEqual(new Float32Array([1, 2, 3]));
    const m = file.tensors.get('m')!.data;
    expect(m).toEqual(new Uint8Array([1, 0]));
    expect(Buffer.isBuffer(m)).toBe(false);
    buf.fill(0);
    expect(Array.from(m)).toEqual([1, 0]);
  });

  it('accepts a header padded with spaces, and notes gaps and trailing bytes without failing', () => {
    const padded = craft(JSON.stringify({ x: ONE }) + '      ', f32Bytes([1, 2]));
    expect(Array.from(readSafetensors(padded).tensors.get('x')!.data)).toEqual([1, 2]);
    const gap = craft({ x: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32Bytes([9, 5, 7]));
    const file = readSafetensors(gap, L);
    expect(Array.from(file.tensors.get('x')!.data)).toEqual([5]);
    expect(file.notes.join(' ')).toContain('8 of 12 data bytes are not covered');
  });

  it('reads a file written by Python safetensors 0.8 (torch 1.13: every dtype, scalar, empty, UTF-8 metadata)', () => {
    const file = readSafetensors(Uint8Array.from(Buffer.from(PYTHON_FILE, 'base64')), 'python.safetensors');
    expect(file.metadata).toEqual({ attnscope: 'x', note: 'héllo' });
    expect(file.notes).toEqual([]);
    const get = (n: string) => Array.from(file.tensors.get(n)!.data);
    expect(get('f32')).toEqual([1.5, -2, 3.25, Math.fround(0.1), Math.fround(1e-40), Infinity]);
    expect(get('f16')).toEqual([1, -0.333251953125, 65504, 2 ** -24, -Infinity]);
    expect(get('bf16')).toEqual([1, 3.140625, -9.969209968386869e37, 9.183549615799121e-41]);
    expect(get('f64')).toEqual([Math.fround(0.1), -Infinity]);
    expect(get('i64')).toEqual([0, -1, 2147483647, -2147483648]);
    expect(file.tensors.get('i64')!.shape).toEqual([1, 4]);
    expect(get('i32')).toEqual([7, -7]);
    expect(get('i8')).toEqual([-128, 127, -1]);
    expect(get('u8')).toEqual([0, 255, 3]);
    expect(get('mask')).toEqual([1, 0, 0, 1]);
    expect(get('scalar')).toEqual([2.5]);
    expect(file.tensors.get('scalar')!.shape).toEqual([]);
    expect(file.tensors.get('empty')!.shape).toEqual([0, 3]);
  });

  // Debian has no python3-safetensors: the other side of the round trip is tools/export_torch.py's reader and writer
  // (numpy, from the format's description), which the fixtures and the exporter use.
  it.skipIf(noTorch !== undefined)(`writes files tools/export_torch.py reads, and reads what it writes${noTorch ? ` (skipped: ${noTorch})` : ''}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'attnscope-st-'));
    try {
      const numpyable = all.filter((t) => t.dtype !== 'BF16'); // numpy has no bf16
      writeFileSync(join(dir, 'a.safetensors'), writeSafetensors(numpyable, { attnscope: 'cfg' }));
      const script = [
        'import json, math, sys',
        `sys.path.insert(0, ${JSON.stringify(join(process.cwd(), 'tools'))})`,
        'import numpy as np',
        'import export_torch as ex',
        't, meta = ex.load_tensors(sys.argv[1])',
        'enc = lambda v: v if isinstance(v, (int, bool)) or math.isfinite(v) else str(v)',
        'print(json.dumps({"meta": meta, "t": {k: {"dtype": str(v.dtype), "shape": list(v.shape), "data": [enc(x) for x in v.reshape(-1).tolist()]} for k, v in t.items()}}))',
        'ex.save_tensors(sys.argv[2], {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "i": np.array([3, -1], dtype=np.int64), "m": np.array([True, False])}, {"k": "v"})',
      ].join('\n');
      writeFileSync(join(dir, 'check.py'), script);
      const out = JSON.parse(execFileSync(PYTHON, [join(dir, 'check.py'), join(dir, 'a.safetensors'), join(dir, 'b.safetensors')], { encoding: 'utf8', timeout: 120_000 }));
      expect(out.meta).toEqual({ attnscope: 'cfg' });
      const dtypes: Record<string, string> = { F32: 'float32', F16: 'float16', F64: 'float64', I64: 'int64', I32: 'int32', I8: 'int8', U8: 'uint8', BOOL: 'bool' };
      expect(Object.keys(out.t).sort()).toEqual(numpyable.map((t) => t.name).sort());
      for (const t of numpyable) {
        const got = out.t[t.name];
        expect(got.dtype, t.name).toBe(dtypes[t.dtype]);
        expect(got.shape, t.name).toEqual([...t.shape]);
        const want = Array.from(t.data, (v) =>
          t.dtype === 'BOOL' ? v !== 0 : t.dtype === 'F32' ? Math.fround(v) : t.dtype === 'F16' ? f16ToF32(f32ToF16Bits(v)) : v,
        ).map((v) => (typeof v === 'number' && !Number.isFinite(v) ? (v > 0 ? 'inf' : '-inf') : v));
        expect(got.data, t.name).toEqual(want);
      }
      // And the reverse: Python writes (floats as F32 and bools as U8, as the exporter stores them), we read.
      const back = readSafetensors(readFileSync(join(dir, 'b.safetensors')), 'b');
      expect(back.metadata).toEqual({ k: 'v' });
      expect(Array.from(back.tensors.get('a')!.data)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(back.tensors.get('a')!.shape).toEqual([2, 3]);
      expect(back.tensors.get('i')).toMatchObject({ dtype: 'I64', shape: [2] });
      expect(Array.from(back.tensors.get('i')!.data)).toEqual([3, -1]);
      expect(back.tensors.get('m')).toMatchObject({ dtype: 'U8', shape: [2] });
      expect(Array.from(back.tensors.get('m')!.data)).toEqual([1, 0]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('readSafetensors rejects malformed files', () => {
  it('truncated: shorter than 8 bytes', () => {
    expectError(() => readSafetensors(new Uint8Array(5), L), 'truncated', L, '5 bytes');
  });

  it('truncated: header length past the end of the file', () => {
    expectError(() => readSafetensors(craft('{}', new Uint8Array(0), 1000), L), 'truncated', L, 'header length 1000', '10-byte file');
  });

  it('header-too-large: checked before anything is decoded or allocated', () => {
    // 8 bytes claiming a 2^40-byte header: must not try to read or allocate it.
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setUint32(4, 256, true);
    expectError(() => readSafetensors(bytes, L), 'header-too-large', L, '1099511627776');
    expectError(() => readSafetensors(craft('{}', new Uint8Array(0), 100_000_001), L), 'header-too-large', '100000001');
    // An all-0xff length is over 2^53 and still refused cleanly.
    expectError(() => readSafetensors(new Uint8Array(16).fill(0xff), L), 'header-too-large', L);
  });

  it('bad-json: invalid UTF-8, invalid JSON, empty header', () => {
    expectError(() => readSafetensors(craft(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), undefined), L), 'bad-json', L, 'UTF-8');
    expectError(() => readSafetensors(craft('{"x": '), L), 'bad-json', L, 'not valid JSON');
    expectError(() => readSafetensors(craft(''), L), 'bad-json', L);
  });

  it('bad-header: not an object, entries of the wrong form', () => {
    expectError(() => readSafetensors(craft('[1,2]'), L), 'bad-header', L, 'an array, not an object');
    expectError(() => readSafetensors(craft('null'), L), 'bad-header', 'null');
    expectError(() => readSafetensors(craft({ x: 5 }), L), 'bad-header', '"x"', 'not an object');
    expectError(() => readSafetensors(craft({ x: { shape: [2], data_offsets: [0, 8] } }, f32Bytes([1, 2])), L), 'bad-header', '"x"', 'no "dtype"');
    expectError(() => readSafetensors(craft({ x: { dtype: 'F32', data_offsets: [0, 8] } }, f32Bytes([1, 2])), L), 'bad-header', '"x"', 'no "shape"');
    expectError(() => readSafetensors(craft({ x: { dtype: 'F32', shape: [2] } }, f32Bytes([1, 2])), L), 'bad-header', '"x"', 'no "data_offsets"');
    expectError(() => readSafetensors(craft({ x: { ...ONE, dtype: 4 } }, f32Bytes([1, 2])), L), 'bad-header', '"x"', 'dtype is number 4');
    expectError(() => readSafetensors(craft({ x: { ...ONE, shape: 2 } }, f32Bytes([1, 2])), L), 'bad-header', '"x"', 'shape is number 2');
  });

  it('dtype: unknown dtype', () => {
    const e = expectError(() => readSafetensors(craft({ ok: ONE, 'enc.w': { ...ONE, dtype: 'F8_E4M3' } }, f32Bytes([1, 2])), L), 'dtype', L, '"enc.w"', 'F8_E4M3');
    expect(e.tensor).toBe('enc.w');
  });

  it('shape: entries that are not non-negative integers', () => {
    for (const shape of [[-1], [1.5], ['2'], [null], [2 ** 60]]) {
      expectError(() => readSafetensors(craft({ x: { ...ONE, shape } }, f32Bytes([1, 2])), L), 'shape', L, '"x"', 'not a non-negative integer');
    }
  });

  it('bad-offsets: malformed, reversed, past the data, or not matching the shape', () => {
    const d = f32Bytes([1, 2]);
    expectError(() => readSafetensors(craft({ x: { ...ONE, data_offsets: [0] } }, d), L), 'bad-offsets', '"x"', 'not [begin, end]');
    expectError(() => readSafetensors(craft({ x: { ...ONE, data_offsets: 'a' } }, d), L), 'bad-offsets', '"x"');
    expectError(() => readSafetensors(craft({ x: { ...ONE, data_offsets: [0, 7.5] } }, d), L), 'bad-offsets', 'not non-negative integers');
    expectError(() => readSafetensors(craft({ x: { ...ONE, data_offsets: [-8, 0] } }, d), L), 'bad-offsets', 'not non-negative integers');
    expectError(() => readSafetensors(craft({ x: { ...ONE, data_offsets: [8, 0] } }, d), L), 'bad-offsets', '"x"', 'end before they begin');
    expectError(() => readSafetensors(craft({ x: { ...ONE, data_offsets: [0, 16] } }, d), L), 'bad-offsets', '"x"', '8-byte data section');
    expectError(() => readSafetensors(craft({ x: { ...ONE, shape: [3] } }, d), L), 'bad-offsets', '"x"', 'needs 12 bytes', 'span 8');
    // A huge shape against a small span: no allocation, a plain mismatch.
    expectError(() => readSafetensors(craft({ x: { ...ONE, shape: [2 ** 26, 2 ** 26, 2 ** 26] } }, d), L), 'bad-offsets', '"x"');
  });

  it('overlap: two tensors sharing bytes', () => {
    const d = f32Bytes([1, 2, 3]);
    const e = expectError(
      () => readSafetensors(craft({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, d), L),
      'overlap',
      L,
      '"a" [0, 8)',
      '"b" [4, 12)',
    );
    expect(e.tensor).toBe('b');
    // Empty tensors occupy no bytes and overlap nothing.
    const ok = readSafetensors(craft({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, z: { dtype: 'F32', shape: [0], data_offsets: [4, 4] } }, f32Bytes([1, 2])));
    expect(ok.tensors.get('z')!.data.length).toBe(0);
  });

  it('metadata: __metadata__ must be a string -> string map', () => {
    expectError(() => readSafetensors(craft({ __metadata__: { a: 1 }, x: ONE }, f32Bytes([1, 2])), L), 'metadata', L, '"a"', 'not a string');
    expectError(() => readSafetensors(craft({ __metadata__: ['a'] }), L), 'metadata', 'an array');
    expectError(() => readSafetensors(craft({ __metadata__: 'a' }), L), 'metadata', 'string "a"');
  });

  it('range: I64 values outside int32, naming the tensor and the index', () => {
    const d = new Uint8Array(24);
    const v = new DataView(d.buffer);
    v.setBigInt64(0, 5n, true);
    v.setBigInt64(8, -3n, true);
    v.setBigInt64(16, 2n ** 31n, true);
    expectError(() => readSafetensors(craft({ ids: { dtype: 'I64', shape: [3], data_offsets: [0, 24] } }, d), L), 'range', L, '"ids"', 'index 2', '2147483648');
    v.setBigInt64(16, -(2n ** 40n), true);
    expectError(() => readSafetensors(craft({ ids: { dtype: 'I64', shape: [3], data_offsets: [0, 24] } }, d), L), 'range', 'index 2', '-1099511627776');
    v.setBigInt64(16, -(2n ** 31n) - 1n, true); // high word -1, low word positive
    expectError(() => readSafetensors(craft({ ids: { dtype: 'I64', shape: [3], data_offsets: [0, 24] } }, d), L), 'range', 'index 2', '-2147483649');
  });

  it('quotes hostile tensor names so messages stay one line and short', () => {
    const name = 'a\nb' + 'x'.repeat(5000);
    const e = expectError(() => readSafetensors(craft({ [name]: { ...ONE, dtype: 'Q' } }, f32Bytes([1, 2])), L), 'dtype', '"a\\nb');
    expect(e.message.length).toBeLessThan(400);
  });
});

describe('writeSafetensors rejects what it cannot write', () => {
  it('checks names, shapes, values and metadata', () => {
    expectError(() => writeSafetensors([{ name: 'x', dtype: 'F32', shape: [2, 2], data: [1, 2, 3] }]), 'write', '"x"', '4 elements', 'data has 3');
    expectError(() => writeSafetensors([{ name: 'x', dtype: 'F32', shape: [1], data: [1] }, { name: 'x', dtype: 'F32', shape: [1], data: [1] }]), 'write', '"x" appears twice');
    expectError(() => writeSafetensors([{ name: '__metadata__', dtype: 'F32', shape: [1], data: [1] }]), 'write', '__metadata__');
    expectError(() => writeSafetensors([{ name: 'x', dtype: 'F8' as 'F32', shape: [1], data: [1] }]), 'write', 'unknown dtype');
    expectError(() => writeSafetensors([{ name: 'x', dtype: 'F32', shape: [-1], data: [] }]), 'write', 'not a non-negative integer');
    expectError(() => writeSafetensors([{ name: 'u', dtype: 'U8', shape: [2], data: [1, 256] }]), 'write', '"u"', 'index 1', '0..255');
    expectError(() => writeSafetensors([{ name: 'i', dtype: 'I8', shape: [1], data: [-129] }]), 'write', '-128..127');
    expectError(() => writeSafetensors([{ name: 'i', dtype: 'I32', shape: [1], data: [2 ** 31] }]), 'write', 'int32');
    expectError(() => writeSafetensors([{ name: 'i', dtype: 'I64', shape: [1], data: [0.5] }]), 'write', 'safe integer');
    expectError(() => writeSafetensors([], { a: 1 as unknown as string }), 'write', '"a"', 'not a string');
  });
});

// Written by Python safetensors 0.8.0 / torch 1.13 (save(tensors, metadata={"attnscope": "x", "note": "héllo"})):
// f32 [[1.5,-2,3.25],[0.1,1e-40,inf]], f16 [1,-0.33325,65504,2^-24,-inf], bf16 [1,3.140625,-1e38,9.18e-41],
// f64 [0.1,-1e300], i64 [[0,-1,2^31-1,-2^31]], i32 [7,-7], i8 [-128,127,-1], u8 [0,255,3], mask [[T,F],[F,T]],
// scalar 2.5, empty zeros(0, 3).
const PYTHON_FILE =
  'uAIAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJhdHRuc2NvcGUiOiJ4Iiwibm90ZSI6ImjDqWxsbyJ9LCJpNjQiOnsiZHR5cGUiOiJJNjQiLCJzaGFwZSI6WzEsNF0sImRhdGFfb2Zmc2V0cyI6WzAsMzJdfSwiZjY0Ijp7ImR0eXBlIjoiRjY0Iiwic2hhcGUiOlsyXSwiZGF0YV9vZmZzZXRzIjpbMzIsNDhdfSwiZW1wdHkiOnsiZHR5cGUiOiJGMzIiLCJzaGFwZSI6WzAsM10sImRhdGFfb2Zmc2V0cyI6WzQ4LDQ4XX0sImYzMiI6eyJkdHlwZSI6IkYzMiIsInNoYXBlIjpbMiwzXSwiZGF0YV9vZmZzZXRzIjpbNDgsNzJdfSwic2NhbGFyIjp7ImR0eXBlIjoiRjMyIiwic2hhcGUiOltdLCJkYXRhX29mZnNldHMiOls3Miw3Nl19LCJpMzIiOnsiZHR5cGUiOiJJMzIiLCJzaGFwZSI6WzJdLCJkYXRhX29mZnNldHMiOls3Niw4NF19LCJiZjE2Ijp7ImR0eXBlIjoiQkYxNiIsInNoYXBlIjpbNF0sImRhdGFfb2Zmc2V0cyI6Wzg0LDkyXX0sImYxNiI6eyJkdHlwZSI6IkYxNiIsInNoYXBlIjpbNV0sImRhdGFfb2Zmc2V0cyI6WzkyLDEwMl19LCJpOCI6eyJkdHlwZSI6Ikk4Iiwic2hhcGUiOlszXSwiZGF0YV9vZmZzZXRzIjpbMTAyLDEwNV19LCJ1OCI6eyJkdHlwZSI6IlU4Iiwic2hhcGUiOlszXSwiZGF0YV9vZmZzZXRzIjpbMTA1LDEwOF19LCJtYXNrIjp7ImR0eXBlIjoiQk9PTCIsInNoYXBlIjpbMiwyXSwiZGF0YV9vZmZzZXRzIjpbMTA4LDExMl19fSAAAAAAAAAAAP//////////////fwAAAAAAAACA/////5qZmZmZmbk/nHUAiDzkN/4AAMA/AAAAwAAAUEDNzMw9whYBAAAAgH8AACBABwAAAPn///+AP0lAlv4BAAA8VbX/ewEAAPyAf/8A/wMBAAAB';
