/**
 * 16-bit floats: IEEE binary16 (F16) and bfloat16 (BF16) bit patterns <-> f32, bit-exact. Safetensors files store
 * them; the GPU keeps weights in them (two to a u32 word, shaders/common/half.wgsl) and the kernels' CPU references
 * round through them.
 */

/** An IEEE binary16 bit pattern as a number (exact: subnormals, ±0, ±inf, NaN). */
export function f16ToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/** A bfloat16 bit pattern as a number (exact: it is the top half of an f32). */
export function bf16ToF32(bits: number): number {
  F32_SCRATCH_U32[0] = (bits & 0xffff) << 16;
  return F32_SCRATCH[0];
}

const F32_SCRATCH = new Float32Array(1);
const F32_SCRATCH_U32 = new Uint32Array(F32_SCRATCH.buffer);

/** The f32 bit pattern of an f16 bit pattern; NaN payloads are kept (shifted into the f32 mantissa). */
export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 31) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  if (mant === 0) return sign >>> 0;
  // Subnormal: value = mant * 2^-24. Normalise so the leading one sits at bit 10.
  let e = 113; // f32 exponent field for 2^-14
  while ((mant & 0x400) === 0) {
    mant <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
}

let f16Table: Uint32Array | undefined;

/** Widens f16 bit patterns to f32, bit-exact (a 256 KB table built on first use). */
export function f16ArrayToF32(src: Uint16Array): Float32Array {
  if (!f16Table) {
    f16Table = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToF32Bits(h);
  }
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) bits[i] = f16Table[src[i]];
  return out;
}

/** Widens bf16 bit patterns to f32, bit-exact. */
export function bf16ArrayToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
  return out;
}

/** Rounds a number to f32, then to the nearest f16 (ties to even, overflow to inf, NaN stays a quiet NaN). */
export function f32ToF16Bits(x: number): number {
  F32_SCRATCH[0] = x;
  const b = F32_SCRATCH_U32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // f16 exponent field
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below 2^-25: rounds to zero
    const m = mant | 0x800000;
    const shift = 14 - e; // 14..24
    let half = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && half & 1)) half++;
    return sign | half; // a carry to 0x400 is the smallest normal, correctly encoded
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++; // a carry may reach 0x7c00 = inf, as it should
  return sign | half;
}

/** Rounds a number to f32, then to the nearest bf16 (ties to even; NaN stays a quiet NaN). */
export function f32ToBf16Bits(x: number): number {
  F32_SCRATCH[0] = x;
  const b = F32_SCRATCH_U32[0];
  if ((b & 0x7f800000) === 0x7f800000 && b & 0x7fffff) return (b >>> 16) | 0x40;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}


/** A 16-bit float format the GPU keeps weights in: pairs packed in u32 words, element 2i in the low half. */
export type HalfDType = 'f16' | 'bf16';

/**
 * The bit patterns of `values` rounded to `dtype`, padded with a zero to an even length: the words a packed tensor
 * holds (element i in half i % 2 of word i / 2 on a little-endian view, as a safetensors file lays them out).
 */
export function halfBits(dtype: HalfDType, values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length + (values.length % 2));
  const round = dtype === 'f16' ? f32ToF16Bits : f32ToBf16Bits;
  for (let i = 0; i < values.length; i++) out[i] = round(values[i]);
  return out;
}

/** `values` rounded to `dtype` and widened back: what a kernel computes with when it reads them packed. */
export function roundedTo(dtype: HalfDType, values: ArrayLike<number>): Float32Array {
  const bits = halfBits(dtype, values).subarray(0, values.length);
  return dtype === 'f16' ? f16ArrayToF32(bits) : bf16ArrayToF32(bits);
}
