/**
 * A strict safetensors reader and writer (https://github.com/huggingface/safetensors, format section), for the
 * browser and Node alike: only Uint8Array / DataView / TextDecoder.
 *
 * File layout: u64 little-endian header length N, N bytes of UTF-8 JSON (may be padded with trailing spaces), then
 * the data section. Each header entry is `name: {dtype, shape, data_offsets: [begin, end]}` with offsets relative
 * to the start of the data section; the optional `__metadata__` entry is a string -> string map.
 *
 * Reading never allocates from a size it has not checked against the bytes actually present.
 */
import { dims as fmtDims, jsonError, ModelFileError, quote, show, type ModelFileErrorCode } from './errors.ts';

export type FloatDType = 'F32' | 'F16' | 'BF16' | 'F64';
export type ByteDType = 'U8' | 'BOOL';
export type IntDType = 'I8' | 'I32' | 'I64';
export type SafetensorsDType = FloatDType | ByteDType | IntDType;

/** Bytes per element of each dtype this reader knows. */
export const DTYPE_BYTES: Readonly<Record<SafetensorsDType, number>> = {
  F64: 8,
  I64: 8,
  F32: 4,
  I32: 4,
  F16: 2,
  BF16: 2,
  U8: 1,
  BOOL: 1,
  I8: 1,
};

export function isFloatDType(d: SafetensorsDType): d is FloatDType {
  return d === 'F32' || d === 'F16' || d === 'BF16' || d === 'F64';
}

/**
 * One tensor as read: floats come back as Float32Array (F16 / BF16 widened exactly, F64 rounded to nearest f32),
 * U8 / BOOL as the raw bytes (BOOL is not normalised: nonzero = true), I8 / I32 / I64 as Int32Array (sign kept;
 * I64 values outside int32 are an error). `dtype` is the dtype stored in the file.
 */
export type TensorEntry =
  | { name: string; dtype: FloatDType; shape: number[]; data: Float32Array }
  | { name: string; dtype: ByteDType; shape: number[]; data: Uint8Array }
  | { name: string; dtype: IntDType; shape: number[]; data: Int32Array };

export interface SafetensorsFile {
  metadata: Record<string, string>;
  /** In data-section order (the order the writer laid them out). */
  tensors: Map<string, TensorEntry>;
  /** Things that are legal but unusual, e.g. data bytes no tensor covers (gaps, trailing bytes). Empty normally. */
  notes: string[];
}

/** What the writer takes. Values are numbers in the tensor's own terms (F16 / BF16 are rounded to nearest even). */
export interface TensorInput {
  name: string;
  dtype: SafetensorsDType;
  shape: readonly number[];
  data: ArrayLike<number>;
}

/** Headers over this are refused before decoding (the Python / Rust safetensors cap is the same). */
export const MAX_HEADER_BYTES = 100_000_000;

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export { bf16ArrayToF32, bf16ToF32, f16ArrayToF32, f16BitsToF32Bits, f16ToF32, f32ToBf16Bits, f32ToF16Bits } from '../gpu/half.ts';
import { bf16ArrayToF32, f16ArrayToF32, f32ToBf16Bits, f32ToF16Bits, type HalfDType } from '../gpu/half.ts';

// ---------------------------------------------------------------------------------------------------------------
// reading

interface RawEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  begin: number;
  end: number;
}

type Fail = (code: ModelFileErrorCode, msg: string, tensor?: string) => never;

/** Parses and validates a whole safetensors file; tensors are copied out, so `bytes` may be dropped afterwards. */
export function readSafetensors(bytes: Uint8Array, fileLabel = 'file'): SafetensorsFile {
  const { metadata, entries, notes } = indexSafetensors(bytes, fileLabel);
  return { metadata, tensors: new Map([...entries].map(([name, e]) => [name, e.decode()])), notes };
}

/**
 * One tensor of an indexed file, not decoded yet: `decode` copies it out as readSafetensors would; `floats` widens
 * elements [start, start + count) of a float tensor to f32 (so a large F16 tensor can be uploaded in chunks without
 * a full f32 copy on the CPU). Both read the file's bytes, which must stay alive.
 */
export interface LazyTensor {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  numel: number;
  /** 'f16' / 'bf16' for an F16 / BF16 tensor (what halfBytes reads), else undefined. */
  half?: HalfDType;
  decode(): TensorEntry;
  floats(start: number, count: number): Float32Array;
  /** The stored bytes of elements [start, start + count) of an F16 / BF16 tensor: a view into the file's bytes. */
  halfBytes(start: number, count: number): Uint8Array;
}

export interface SafetensorsIndex {
  metadata: Record<string, string>;
  /** In data-section order. */
  entries: Map<string, LazyTensor>;
  notes: string[];
}

/** Parses and validates a safetensors file's header against its size; tensors are decoded on demand. */
export function indexSafetensors(bytes: Uint8Array, fileLabel = 'file'): SafetensorsIndex {
  const fail: Fail = (code, msg, tensor) => {
    throw new ModelFileError(`${fileLabel}: ${msg}`, code, fileLabel, tensor);
  };

  if (bytes.length < 8) fail('truncated', `${bytes.length} bytes, shorter than the 8-byte safetensors header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenLo = view.getUint32(0, true);
  const lenHi = view.getUint32(4, true);
  const headerLen = lenHi * 2 ** 32 + lenLo; // exact below 2^53; anything near that is refused just below
  if (headerLen > MAX_HEADER_BYTES) {
    fail('header-too-large', `header length ${headerLen} is over the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
  }
  if (8 + headerLen > bytes.length) {
    fail('truncated', `header length ${headerLen} runs past the end of the ${bytes.length}-byte file (truncated?)`);
  }

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    return fail('bad-json', 'header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail('bad-json', `header is not valid JSON (${jsonError(e)})`);
  }
  if (!isPlainObject(header)) fail('bad-header', `header JSON is ${describe(header)}, not an object`);
  const head = header as Record<string, unknown>;

  const dataStart = 8 + headerLen;
  const dataSize = bytes.length - dataStart;

  const metadata: Record<string, string> = {};
  const raw: RawEntry[] = [];
  for (const [name, entry] of Object.entries(head)) {
    if (name === '__metadata__') {
      if (!isPlainObject(entry)) fail('metadata', `__metadata__ is ${describe(entry)}, not a string -> string map`);
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') fail('metadata', `__metadata__ value for ${quote(k)} is ${describe(v)}, not a string`);
        // defineProperty: a "__proto__" key is data, not the object's prototype
        Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
      continue;
    }
    raw.push(parseEntry(name, entry, dataSize, fail));
  }

  // Overlaps: sort by begin and compare neighbours; empty tensors occupy no bytes and cannot overlap.
  const ordered = raw.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let prev: RawEntry | undefined;
  for (const t of ordered) {
    if (t.begin === t.end) continue;
    if (prev && t.begin < prev.end) {
      fail('overlap', `tensors ${quote(prev.name, 60)} [${prev.begin}, ${prev.end}) and ${quote(t.name, 60)} [${t.begin}, ${t.end}) overlap`, t.name);
    }
    covered += t.end - t.begin;
    prev = t;
  }
  const notes: string[] = [];
  if (covered !== dataSize) {
    notes.push(`${dataSize - covered} of ${dataSize} data bytes are not covered by any tensor (gaps or trailing bytes)`);
  }

  const entries = new Map<string, LazyTensor>();
  for (const t of ordered) {
    const numel = (t.end - t.begin) / DTYPE_BYTES[t.dtype];
    entries.set(t.name, {
      name: t.name,
      dtype: t.dtype,
      shape: t.shape,
      numel,
      half: t.dtype === 'F16' ? 'f16' : t.dtype === 'BF16' ? 'bf16' : undefined,
      decode: () => decode(bytes, dataStart, t, fail),
      floats: (start, count) => floatRange(bytes, dataStart, t, start, count),
      halfBytes: (start, count) => {
        const at = elementRange(t, start, count, (d) => d === 'F16' || d === 'BF16', 'an F16 / BF16');
        return bytes.subarray(dataStart + at.begin, dataStart + at.end);
      },
    });
  }
  return { metadata, entries, notes };
}

/** Elements [start, start + count) of a tensor of a dtype `ok` accepts, as an entry of their own (byte offsets). */
function elementRange(t: RawEntry, start: number, count: number, ok: (d: SafetensorsDType) => boolean, what: string): RawEntry {
  if (!ok(t.dtype)) throw new Error(`tensor ${quote(t.name)} is ${t.dtype}, not ${what} tensor`);
  const size = DTYPE_BYTES[t.dtype];
  if (!(Number.isInteger(start) && Number.isInteger(count) && start >= 0 && count >= 0 && (start + count) * size <= t.end - t.begin)) {
    throw new Error(`tensor ${quote(t.name)}: elements [${start}, ${start + count}) are out of range`);
  }
  return { ...t, begin: t.begin + start * size, end: t.begin + (start + count) * size };
}

/** Elements [start, start + count) of a float tensor, widened (F16 / BF16) or rounded (F64) to f32. */
function floatRange(bytes: Uint8Array, dataStart: number, t: RawEntry, start: number, count: number): Float32Array {
  const sub = elementRange(t, start, count, isFloatDType, 'a float');
  return decode(bytes, dataStart, sub, () => {
    throw new Error('unreachable: float tensors decode without failing');
  }).data as Float32Array;
}

function parseEntry(name: string, entry: unknown, dataSize: number, fail: Fail): RawEntry {
  const at = `tensor ${quote(name)}`;
  if (!isPlainObject(entry)) fail('bad-header', `${at}: header entry is ${describe(entry)}, not an object`, name);
  const e = entry as Record<string, unknown>;
  for (const key of ['dtype', 'shape', 'data_offsets']) {
    if (!(key in e)) fail('bad-header', `${at}: header entry has no "${key}"`, name);
  }
  const { dtype, shape, data_offsets: offsets } = e;
  if (typeof dtype !== 'string') fail('bad-header', `${at}: dtype is ${describe(dtype)}, not a string`, name);
  if (!Object.prototype.hasOwnProperty.call(DTYPE_BYTES, dtype as string)) {
    fail('dtype', `${at}: unknown dtype ${show(dtype)} (known: ${Object.keys(DTYPE_BYTES).join(', ')})`, name);
  }
  if (!Array.isArray(shape)) fail('bad-header', `${at}: shape is ${describe(shape)}, not an array`, name);
  const dims = shape as unknown[];
  for (let i = 0; i < dims.length; i++) {
    const d = dims[i];
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      fail('shape', `${at}: shape ${show(shape)} has entry ${i} = ${show(d)}, not a non-negative integer`, name);
    }
  }
  if (!Array.isArray(offsets) || offsets.length !== 2) {
    fail('bad-offsets', `${at}: data_offsets ${show(offsets)} is not [begin, end]`, name);
  }
  const [begin, end] = offsets as unknown[];
  if (typeof begin !== 'number' || typeof end !== 'number' || !Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || begin < 0) {
    fail('bad-offsets', `${at}: data_offsets ${show(offsets)} are not non-negative integers`, name);
  }
  const b = begin as number;
  const en = end as number;
  if (b > en) fail('bad-offsets', `${at}: data_offsets [${b}, ${en}] end before they begin`, name);
  if (en > dataSize) fail('bad-offsets', `${at}: data_offsets [${b}, ${en}] run past the ${dataSize}-byte data section (truncated?)`, name);
  const dt = dtype as SafetensorsDType;
  // numel may overflow 2^53 for a hostile shape; it is then certainly != the (small, checked) byte span.
  const numel = (dims as number[]).reduce((a, d) => a * d, 1);
  const want = numel * DTYPE_BYTES[dt];
  if (want !== en - b) {
    fail('bad-offsets', `${at}: shape ${fmtDims(dims)} of ${dt} needs ${want} bytes but data_offsets [${b}, ${en}] span ${en - b}`, name);
  }
  return { name, dtype: dt, shape: (dims as number[]).slice(), begin: b, end: en };
}

/**
 * Copies [start, start + n) of `bytes` into a fresh (hence aligned) Uint8Array. Not `bytes.slice`: on a Node Buffer
 * that returns a view into the same (possibly pooled) memory, not a copy.
 */
function copyBytes(bytes: Uint8Array, start: number, n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  out.set(bytes.subarray(start, start + n));
  return out;
}

function copyOut(bytes: Uint8Array, start: number, n: number): ArrayBuffer {
  return copyBytes(bytes, start, n).buffer;
}

function decode(bytes: Uint8Array, dataStart: number, t: RawEntry, fail: Fail): TensorEntry {
  const start = dataStart + t.begin;
  const nbytes = t.end - t.begin;
  const n = nbytes / DTYPE_BYTES[t.dtype];
  const { name, shape } = t;
  const dv = () => new DataView(bytes.buffer, bytes.byteOffset + start, nbytes);
  /** 4-byte little-endian values: the bytes as they are on a little-endian host, else read one by one. */
  const words = <A extends Float32Array | Int32Array>(make: { new (b: ArrayBuffer): A; new (n: number): A }, get: (v: DataView, at: number) => number): A => {
    if (LITTLE_ENDIAN_HOST) return new make(copyOut(bytes, start, nbytes));
    const v = dv();
    const out = new make(n);
    for (let i = 0; i < n; i++) out[i] = get(v, 4 * i);
    return out;
  };
  switch (t.dtype) {
    case 'F32':
      return { name, shape, dtype: 'F32', data: words(Float32Array, (v, at) => v.getFloat32(at, true)) };
    case 'F64': {
      const v = dv();
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = v.getFloat64(8 * i, true);
      return { name, shape, dtype: 'F64', data: out };
    }
    case 'F16':
    case 'BF16': {
      let u16: Uint16Array;
      if (LITTLE_ENDIAN_HOST) u16 = new Uint16Array(copyOut(bytes, start, nbytes));
      else {
        const v = dv();
        u16 = new Uint16Array(n);
        for (let i = 0; i < n; i++) u16[i] = v.getUint16(2 * i, true);
      }
      const data = t.dtype === 'F16' ? f16ArrayToF32(u16) : bf16ArrayToF32(u16);
      return { name, shape, dtype: t.dtype, data };
    }
    case 'U8':
    case 'BOOL':
      return { name, shape, dtype: t.dtype, data: copyBytes(bytes, start, nbytes) };
    case 'I8':
      return { name, shape, dtype: 'I8', data: Int32Array.from(new Int8Array(copyOut(bytes, start, nbytes))) };
    case 'I32':
      return { name, shape, dtype: 'I32', data: words(Int32Array, (v, at) => v.getInt32(at, true)) };
    case 'I64': {
      const v = dv();
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const lo = v.getUint32(8 * i, true);
        const hi = v.getInt32(8 * i + 4, true);
        if ((hi === 0 && lo <= 0x7fffffff) || (hi === -1 && lo >= 0x80000000)) out[i] = lo | 0;
        else {
          fail('range', `tensor ${quote(name)}: I64 value ${v.getBigInt64(8 * i, true)} at index ${i} does not fit in int32`, name);
        }
      }
      return { name, shape, dtype: 'I64', data: out };
    }
  }
}

function isPlainObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${show(v)}`;
}

// ---------------------------------------------------------------------------------------------------------------
// writing

/**
 * Writes a safetensors file that Python's safetensors (and a plain numpy reader) accept: header JSON padded with
 * spaces so the data section starts at a multiple of 8, tensors contiguous (no gaps, as the Rust reader insists),
 * ordered by element size, largest first (stable otherwise), so every tensor starts aligned to its element size;
 * all little-endian. `__metadata__` is written only when given.
 */
export function writeSafetensors(
  tensors: readonly TensorInput[] | ReadonlyMap<string, Omit<TensorInput, 'name'>>,
  metadata?: Record<string, string>,
): Uint8Array {
  const label = 'safetensors writer';
  const fail = (msg: string, tensor?: string): never => {
    throw new ModelFileError(`${label}: ${msg}`, 'write', label, tensor);
  };
  const list: TensorInput[] = Array.isArray(tensors)
    ? (tensors as readonly TensorInput[]).slice()
    : [...(tensors as ReadonlyMap<string, Omit<TensorInput, 'name'>>)].map(([name, t]) => ({ ...t, name }));

  const seen = new Set<string>();
  for (const t of list) {
    const at = `tensor ${quote(t.name)}`;
    if (typeof t.name !== 'string') fail(`tensor name ${show(t.name)} is not a string`);
    if (t.name === '__metadata__') fail('a tensor cannot be named "__metadata__"', t.name);
    if (seen.has(t.name)) fail(`${at} appears twice`, t.name);
    seen.add(t.name);
    if (!Object.prototype.hasOwnProperty.call(DTYPE_BYTES, t.dtype)) fail(`${at}: unknown dtype ${show(t.dtype)}`, t.name);
    for (const d of t.shape) {
      if (!Number.isSafeInteger(d) || d < 0) fail(`${at}: shape ${show(t.shape)} has an entry that is not a non-negative integer`, t.name);
    }
    const numel = t.shape.reduce((a, d) => a * d, 1);
    if (numel !== t.data.length) fail(`${at}: shape [${t.shape.join(', ')}] has ${numel} elements but data has ${t.data.length}`, t.name);
  }
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') fail(`__metadata__ value for ${quote(k)} is ${show(v)}, not a string`);
    }
  }

  const order = list.map((t, i) => ({ t, i })).sort((a, b) => DTYPE_BYTES[b.t.dtype] - DTYPE_BYTES[a.t.dtype] || a.i - b.i).map((x) => x.t);
  const head = safetensorsHeader(order, metadata);
  const out = new Uint8Array(head.length + head.dataBytes);
  const view = new DataView(out.buffer);
  out.set(head);

  let pos = head.length;
  for (const t of order) {
    encode(t, out, view, pos, fail);
    pos += t.data.length * DTYPE_BYTES[t.dtype];
  }
  return out;
}

/**
 * The bytes before a safetensors file's data: the header's length (u64 LE), then the JSON header (tensors in data order,
 * `__metadata__` first) padded with spaces to a multiple of 8. `dataBytes`: the data that follows. For a writer that
 * knows its tensors' shapes before their data (a streamed capture).
 */
export function safetensorsHeader(order: readonly Omit<TensorInput, 'data'>[], metadata?: Record<string, string>): Uint8Array & { dataBytes: number } {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header.__metadata__ = { ...metadata };
  let offset = 0;
  for (const t of order) {
    const n = t.shape.reduce((a, d) => a * d, 1) * DTYPE_BYTES[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + n] };
    offset += n;
  }
  // Integer-like names ("0") are enumerated first by JSON.stringify; harmless, offsets are explicit.
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLen = Math.ceil((8 + json.length) / 8) * 8 - 8;
  const out = Object.assign(new Uint8Array(8 + headerLen), { dataBytes: offset });
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLen % 2 ** 32, true);
  view.setUint32(4, Math.floor(headerLen / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  return out;
}

function encode(t: TensorInput, out: Uint8Array, view: DataView, pos: number, fail: (msg: string, tensor?: string) => never): void {
  const { data } = t;
  const n = data.length;
  const bad = (i: number, what: string): never => fail(`tensor ${quote(t.name)}: value ${show(data[i])} at index ${i} is not ${what}`, t.name);
  switch (t.dtype) {
    case 'F32':
      if (LITTLE_ENDIAN_HOST && data instanceof Float32Array) out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), pos);
      else for (let i = 0; i < n; i++) view.setFloat32(pos + 4 * i, data[i], true);
      return;
    case 'F64':
      for (let i = 0; i < n; i++) view.setFloat64(pos + 8 * i, data[i], true);
      return;
    case 'F16':
      for (let i = 0; i < n; i++) view.setUint16(pos + 2 * i, f32ToF16Bits(data[i]), true);
      return;
    case 'BF16':
      for (let i = 0; i < n; i++) view.setUint16(pos + 2 * i, f32ToBf16Bits(data[i]), true);
      return;
    case 'BOOL':
      for (let i = 0; i < n; i++) out[pos + i] = data[i] !== 0 ? 1 : 0;
      return;
    case 'U8':
      for (let i = 0; i < n; i++) {
        const v = data[i];
        if (!Number.isInteger(v) || v < 0 || v > 255) bad(i, 'an integer in 0..255');
        out[pos + i] = v;
      }
      return;
    case 'I8':
      for (let i = 0; i < n; i++) {
        const v = data[i];
        if (!Number.isInteger(v) || v < -128 || v > 127) bad(i, 'an integer in -128..127');
        view.setInt8(pos + i, v);
      }
      return;
    case 'I32':
      for (let i = 0; i < n; i++) {
        const v = data[i];
        if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) bad(i, 'an int32');
        view.setInt32(pos + 4 * i, v, true);
      }
      return;
    case 'I64':
      for (let i = 0; i < n; i++) {
        const v = data[i];
        if (!Number.isSafeInteger(v)) bad(i, 'a safe integer');
        view.setBigInt64(pos + 8 * i, BigInt(v), true);
      }
      return;
  }
}
