import type { TensorEntry } from './safetensors.ts';

/** A named input as the CLI reads it from a safetensors file or an API caller builds it. */
export type InputTensor = Omit<TensorEntry, 'name'>;

/** PyTorch's forward arguments, by the names the CLI's input files use. */
export interface ModelInputs {
  src?: InputTensor;
  tgt?: InputTensor;
  /** decoder-only models: the encoder output the decoder attends to. */
  memory?: InputTensor;
  src_mask?: InputTensor;
  tgt_mask?: InputTensor;
  memory_mask?: InputTensor;
  src_key_padding_mask?: InputTensor;
  tgt_key_padding_mask?: InputTensor;
  memory_key_padding_mask?: InputTensor;
}

export const INPUT_NAMES = ['src', 'tgt', 'memory', 'src_mask', 'tgt_mask', 'memory_mask', 'src_key_padding_mask', 'tgt_key_padding_mask', 'memory_key_padding_mask'] as const;
export type InputName = (typeof INPUT_NAMES)[number];

export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

export function f32(data: Float32Array, shape: number[]): InputTensor {
  return { dtype: 'F32', shape, data };
}

/** A float activation input (src / tgt / memory) of exactly `shape`. */
export function floatInput(name: string, t: InputTensor, shape: readonly number[]): Float32Array {
  if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16' && t.dtype !== 'F64') throw new InputError(`input ${name}: dtype ${t.dtype}, expected a float tensor`);
  checkShape(name, t.shape, shape);
  return t.data as Float32Array;
}

export function checkShape(name: string, got: readonly number[], want: readonly number[]): void {
  if (got.length !== want.length || got.some((d, i) => d !== want[i])) throw new InputError(`input ${name}: shape ${fmt(got)}, expected ${fmt(want)}`);
}

/** Token ids (I32 / I64 / U8) of exactly `shape`, each in [0, vocab). */
export function tokenInput(name: string, t: InputTensor, shape: readonly number[], vocab: number): Uint32Array {
  if (t.dtype !== 'I32' && t.dtype !== 'I64' && t.dtype !== 'I8' && t.dtype !== 'U8') throw new InputError(`input ${name}: dtype ${t.dtype}, expected integer token ids`);
  checkShape(name, t.shape, shape);
  const out = new Uint32Array(t.data.length);
  for (let i = 0; i < t.data.length; i++) {
    const v = t.data[i];
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
  if (t.dtype === 'BOOL' || t.dtype === 'U8') {
    data = new Float32Array(t.data.length);
    for (let i = 0; i < data.length; i++) data[i] = t.data[i] ? -Infinity : 0;
  } else if (t.dtype === 'F32' || t.dtype === 'F16' || t.dtype === 'BF16' || t.dtype === 'F64') {
    data = t.data as Float32Array;
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
