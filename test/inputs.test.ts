// The arrays forward takes per dtype (InputArrays): the natural typed array for each (BigInt64Array for I64, Uint8Array
// for BOOL / U8, …) gives the same output as the Int32Array / number form; a wrong array is refused naming the dtype
// and the array given. The checks run through ModelOutline (the kinds' own feed, no GPU), which forward also runs;
// one forward on the GPU confirms BigInt64Array ids end up as the same tokens.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createNodeContext } from '../src/gpu/node.ts';
import { readModelFile } from '../src/model/config.ts';
import { type InputTensor, type ModelInputs, type TypedInput } from '../src/model/inputs.ts';
import { Model } from '../src/model/model.ts';
import { ModelOutline } from '../src/model/outline.ts';
import { readSafetensors } from '../src/model/safetensors.ts';

const fixtures = fileURLToPath(new URL('fixtures', import.meta.url));
const file = (name: string) => readModelFile(readFileSync(join(fixtures, `${name}.model.safetensors`)), name);
const io = (name: string) => readSafetensors(readFileSync(join(fixtures, `${name}.io.safetensors`)), name).tensors;

describe('inputs: the array each dtype takes', () => {
  const lm = new ModelOutline(file('lm-learned-causal').config);
  const ids = io('lm-learned-causal').get('src')! as TypedInput<'I64'>; // I64 [12, 2], read as an Int32Array
  const asI64: TypedInput<'I64'> = { dtype: 'I64', shape: ids.shape, data: BigInt64Array.from(ids.data as Int32Array, (v) => BigInt(v)) };

  it('token ids: BigInt64Array (I64), Int32Array (I32, I64), plain numbers are all taken', () => {
    const want = lm.checkInputs({ src: ids });
    expect(lm.checkInputs({ src: asI64 })).toEqual(want);
    expect(lm.checkInputs({ src: { dtype: 'I32', shape: ids.shape, data: Int32Array.from(ids.data as Int32Array) } })).toEqual(want);
    expect(lm.checkInputs({ src: { dtype: 'I64', shape: ids.shape, data: Array.from(ids.data as Int32Array) } })).toEqual(want);
  });

  it('a wrong array is refused naming the dtype and the array given', () => {
    const cases: [InputTensor, RegExp][] = [
      [{ ...asI64, data: Float32Array.from(ids.data as Int32Array) } as unknown as InputTensor, /^input src: dtype I64 takes BigInt64Array, Int32Array or an array of numbers; got Float32Array$/],
      [{ dtype: 'I32', shape: ids.shape, data: asI64.data } as unknown as InputTensor, /^input src: dtype I32 takes Int32Array or an array of numbers; got BigInt64Array$/],
      [{ dtype: 'I32', shape: ids.shape, data: Uint32Array.from(ids.data as Int32Array) } as unknown as InputTensor, /dtype I32 takes Int32Array .*; got Uint32Array$/],
      [{ dtype: 'I64', shape: ids.shape, data: Array.from(ids.data as Int32Array, String) } as unknown as InputTensor, /^input src: dtype I64 takes .*; element 0 is string$/],
      [{ dtype: 'I64', shape: ids.shape, data: 'abc' } as unknown as InputTensor, /dtype I64 takes .*; got string$/],
    ];
    for (const [t, msg] of cases) expect(() => lm.checkInputs({ src: t })).toThrow(msg);
    const big = BigInt64Array.from(asI64.data as BigInt64Array);
    big[4] = 2n ** 60n;
    expect(() => lm.checkInputs({ src: { ...asI64, data: big } })).toThrow(/^input src: value 1152921504606846976 at index 4 is beyond 2\^53$/);
    big[4] = 29n;
    expect(() => lm.checkInputs({ src: { ...asI64, data: big } })).toThrow(/^input src: token id 29 at index 4 is outside the vocabulary \[0, 29\)$/);
  });

  it('masks: BOOL as Uint8Array or booleans, F32 as Float32Array / Float64Array; a float array for BOOL is refused', () => {
    const tr = new ModelOutline(file('post-relu-seqfirst').config);
    const x = Object.fromEntries([...io('post-relu-seqfirst')].filter(([k]) => tr.inputNames.includes(k))) as ModelInputs;
    const pad = x.src_key_padding_mask!; // [2, 7]
    expect(pad.dtype).toBe('U8'); // torch's bool, as the fixture writer stores it
    const want = tr.checkInputs(x);
    expect(tr.checkInputs({ ...x, src_key_padding_mask: { dtype: 'BOOL', shape: pad.shape, data: Array.from(pad.data as Uint8Array, Boolean) } })).toEqual(want);
    expect(tr.checkInputs({ ...x, src: { ...x.src!, data: Float64Array.from(x.src!.data as Float32Array) } })).toEqual(want);
    expect(() => tr.checkInputs({ ...x, src_key_padding_mask: { ...pad, dtype: 'BOOL', data: Float32Array.from(pad.data as Uint8Array) } as unknown as InputTensor })).toThrow(
      /^input src_key_padding_mask: dtype BOOL takes Uint8Array or an array of booleans or numbers; got Float32Array$/,
    );
    expect(() => tr.checkInputs({ ...x, src: { ...x.src!, data: new Int32Array(336) } as unknown as InputTensor })).toThrow(/^input src: dtype F32 takes Float32Array, Float64Array or an array of numbers; got Int32Array$/);
  });

  it('on the GPU, BigInt64Array ids give exactly the output of the Int32Array ids', async () => {
    const ctx = await createNodeContext();
    const model = Model.fromFile(ctx, file('lm-learned-causal'));
    try {
      const a = await model.forward({ src: ids });
      const b = await model.forward({ src: asI64 });
      expect(b.shape).toEqual(a.shape);
      expect(Array.from(b.output)).toEqual(Array.from(a.output));
    } finally {
      model.dispose();
      ctx.dispose();
    }
  });
});
