import type { TensorEntry } from './safetensors.ts';

/** A named input as the CLI reads it from a safetensors file or an API caller builds it. */
export type InputTensor = Omit<TensorEntry, 'name'>;

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
  const d: unknown = t.data;
  if (!d || typeof (d as ArrayLike<number>).length !== 'number') throw new InputError(`input ${name}: data is ${d === null ? 'null' : typeof d}, not an array of numbers`);
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
  if (!t.data || t.data.length !== n) throw new InputError(`input ${name}: ${t.data?.length ?? 'no'} values for shape ${fmt(t.shape)} (${n} values)`);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const v = t.data[i];
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
    if (!t.data || t.data.length !== n) throw new InputError(`input ${name}: ${t.data?.length ?? 'no'} values for shape ${fmt(t.shape)} (${n} values)`);
    data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = t.data[i] ? -Infinity : 0;
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
