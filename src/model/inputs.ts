/**
 * The arrays an input of each dtype takes: the natural typed array for the dtype (BigInt64Array for I64, Uint8Array for
 * U8 and BOOL, …), Int32Array for the integer dtypes (what readSafetensors returns for them), or a plain array.
 */
export interface InputArrays {
  F32: Float32Array | Float64Array | readonly number[];
  F64: Float64Array | Float32Array | readonly number[];
  /** Half-precision values already decoded to numbers (readSafetensors widens them to a Float32Array). */
  F16: Float32Array | Float64Array | readonly number[];
  BF16: Float32Array | Float64Array | readonly number[];
  I64: BigInt64Array | Int32Array | readonly number[];
  I32: Int32Array | readonly number[];
  I8: Int8Array | Int32Array | readonly number[];
  U8: Uint8Array | readonly number[];
  BOOL: Uint8Array | readonly boolean[] | readonly number[];
}

export type InputDType = keyof InputArrays;

/**
 * A named input as the CLI reads it from a safetensors file or an API caller builds it: `data` row-major over
 * `shape`, an array its dtype takes (InputArrays; `TypedInput<'I64'>` checks that at compile time, and forward
 * checks it at run time, naming the dtype and the array given).
 */
export interface TypedInput<D extends InputDType = InputDType> {
  dtype: D;
  shape: number[];
  data: InputArrays[D];
}
export type InputTensor = TypedInput;

type ArrayClass = abstract new (...args: never[]) => ArrayLike<unknown>;
const FLOATS: readonly ArrayClass[] = [Float32Array, Float64Array];
/** The typed arrays each dtype takes (InputArrays at run time; plain arrays are checked element by element). */
const TYPED: { readonly [D in keyof InputArrays]: readonly ArrayClass[] } = {
  F32: FLOATS,
  F64: FLOATS,
  F16: FLOATS,
  BF16: FLOATS,
  I64: [BigInt64Array, Int32Array],
  I32: [Int32Array],
  I8: [Int8Array, Int32Array],
  U8: [Uint8Array],
  BOOL: [Uint8Array],
};

/**
 * An input's values once its array is checked against its dtype: a wrong array (a Float32Array of token ids, an
 * I64 tensor in a Uint32Array) is refused naming the dtype and the array given. BigInt64Array values come back as
 * numbers (token ids and masks are far below 2^53; a larger one is refused).
 */
export function inputValues(name: string, t: InputTensor): ArrayLike<number | boolean> {
  const d: unknown = t.data;
  const typed = Object.hasOwn(TYPED, t.dtype) ? TYPED[t.dtype] : undefined;
  if (!typed) throw new InputError(`input ${name}: dtype ${String(t.dtype)} is not one of ${Object.keys(TYPED).join(', ')}`);
  const takes = `${typed.map((c) => c.name).join(', ')} or an array of ${t.dtype === 'BOOL' ? 'booleans or numbers' : 'numbers'}`;
  if (Array.isArray(d)) {
    const bad = d.findIndex((v) => typeof v !== 'number' && !(t.dtype === 'BOOL' && typeof v === 'boolean'));
    if (bad >= 0) throw new InputError(`input ${name}: dtype ${t.dtype} takes ${takes}; element ${bad} is ${typeof d[bad]}`);
    return d as number[];
  }
  if (!typed.some((c) => d instanceof c)) {
    const given = d === null ? 'null' : typeof d === 'object' ? (d.constructor?.name ?? 'an object') : typeof d;
    throw new InputError(`input ${name}: dtype ${t.dtype} takes ${takes}; got ${given}`);
  }
  if (!(d instanceof BigInt64Array)) return d as ArrayLike<number>;
  const out = new Float64Array(d.length);
  for (let i = 0; i < d.length; i++) {
    if (d[i] > BigInt(Number.MAX_SAFE_INTEGER) || d[i] < -BigInt(Number.MAX_SAFE_INTEGER)) throw new InputError(`input ${name}: value ${d[i]} at index ${i} is beyond 2^53`);
    out[i] = Number(d[i]);
  }
  return out;
}

/**
 * A forward's named tensors. Each kind says which names it takes (`model.inputNames`): PyTorch's forward arguments
 * for the nn.Transformer kinds (INPUT_NAMES: src, tgt, memory and their masks).
 */
export type ModelInputs = { [name: string]: InputTensor | undefined };

/** The inputs of the nn.Transformer kinds, by the names the CLI's input files use. */
export const INPUT_NAMES = ['src', 'tgt', 'memory', 'src_mask', 'tgt_mask', 'memory_mask', 'src_key_padding_mask', 'tgt_key_padding_mask', 'memory_key_padding_mask'] as const;
export type InputName = (typeof INPUT_NAMES)[number];

export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** Inputs must be an object whose every name the model's kind accepts. */
export function checkInputNames(inputs: ModelInputs, accepted: readonly string[], kind: string): void {
  if (inputs === null || typeof inputs !== 'object') throw new InputError(`forward: inputs must be an object of named tensors (${accepted.join(', ')})`);
  for (const k of Object.keys(inputs)) {
    if (!accepted.includes(k)) throw new InputError(`unknown input '${k}' for a ${kind} model (expected some of ${accepted.join(', ')})`);
  }
}

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

export function f32(data: Float32Array, shape: number[]): InputTensor {
  return { dtype: 'F32', shape, data };
}

/**
 * The values of a float input as a Float32Array of `numel` values. JS callers may hand in a Float64Array or a plain
 * array (the types say Float32Array): those are converted, since their bytes written as they are would be garbage.
 */
function floatData(name: string, t: InputTensor, numel: number): Float32Array {
  const d = inputValues(name, t);
  const data = d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>);
  if (data.length !== numel) throw new InputError(`input ${name}: ${data.length} values for shape ${fmt(t.shape)} (${numel} values)`);
  return data;
}

const numelOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** A float activation input (src / tgt / memory) of exactly `shape`. */
export function floatInput(name: string, t: InputTensor, shape: readonly number[]): Float32Array {
  if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16' && t.dtype !== 'F64') throw new InputError(`input ${name}: dtype ${t.dtype}, expected a float tensor`);
  checkShape(name, t.shape, shape);
  return floatData(name, t, numelOf(shape));
}

export function checkShape(name: string, got: readonly number[], want: readonly number[]): void {
  if (got.length !== want.length || got.some((d, i) => d !== want[i])) throw new InputError(`input ${name}: shape ${fmt(got)}, expected ${fmt(want)}`);
  if (got.some((d) => !Number.isSafeInteger(d) || d <= 0)) throw new InputError(`input ${name}: shape ${fmt(got)} has an empty or invalid dimension; every dimension must be a positive integer`);
}

/** Token ids (I32 / I64 / U8) of exactly `shape`, each in [0, vocab). */
export function tokenInput(name: string, t: InputTensor, shape: readonly number[], vocab: number): Uint32Array {
  if (t.dtype !== 'I32' && t.dtype !== 'I64' && t.dtype !== 'I8' && t.dtype !== 'U8') throw new InputError(`input ${name}: dtype ${t.dtype}, expected integer token ids`);
  checkShape(name, t.shape, shape);
  const n = numelOf(shape);
  const data = inputValues(name, t);
  if (data.length !== n) throw new InputError(`input ${name}: ${data.length} values for shape ${fmt(t.shape)} (${n} values)`);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const v = data[i] as number;
    if (!Number.isInteger(v)) throw new InputError(`input ${name}: token id ${v} at index ${i} is not an integer`);
    if (v < 0 || v >= vocab) throw new InputError(`input ${name}: token id ${v} at index ${i} is outside the vocabulary [0, ${vocab})`);
    out[i] = v;
  }
  return out;
}

/**
 * A mask as PyTorch takes it: float masks are added to the scores; bool / u8 masks block where true
 * (converted to -inf / 0). Returns the additive f32 mask, and whether it is exactly the causal mask of
 * an L x L square (so the kernel can apply causality without reading a mask).
 */
export function additiveMask(name: string, t: InputTensor, shapes: readonly (readonly number[])[]): { data: Float32Array; shape: number[]; causal: boolean } {
  if (!shapes.some((s) => s.length === t.shape.length && s.every((d, i) => d === t.shape[i]))) {
    throw new InputError(`input ${name}: shape ${fmt(t.shape)}, expected ${shapes.map(fmt).join(' or ')}`);
  }
  let data: Float32Array;
  const n = numelOf(t.shape);
  if (t.dtype === 'BOOL' || t.dtype === 'U8') {
    const bools = inputValues(name, t);
    if (bools.length !== n) throw new InputError(`input ${name}: ${bools.length} values for shape ${fmt(t.shape)} (${n} values)`);
    data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = bools[i] ? -Infinity : 0;
  } else if (t.dtype === 'F32' || t.dtype === 'F16' || t.dtype === 'BF16' || t.dtype === 'F64') {
    data = floatData(name, t, n);
    const nan = data.findIndex((v) => Number.isNaN(v));
    if (nan >= 0) throw new InputError(`input ${name}: NaN at index ${nan}`);
  } else throw new InputError(`input ${name}: dtype ${t.dtype}; masks are F32 (added) or BOOL / U8 (true = blocked)`);
  return { data, shape: [...t.shape], causal: isCausal(data, t.shape) };
}

function isCausal(m: Float32Array, shape: readonly number[]): boolean {
  if (shape.length !== 2 || shape[0] !== shape[1]) return false;
  const n = shape[0];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const v = m[i * n + j];
      if (j > i ? v !== -Infinity : v !== 0) return false;
    }
  }
  return true;
}

/** torch.nn.Transformer.generate_square_subsequent_mask(n): -inf above the diagonal, 0 elsewhere. */
export function generateSquareSubsequentMask(n: number): InputTensor {
  const data = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) data[i * n + j] = -Infinity;
  return f32(data, [n, n]);
}
