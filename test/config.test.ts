import { describe, expect, it } from 'vitest';
import { expectedTensors, parseConfig, readModelFile, splitConfig, writeModelFile, type ModelConfig } from '../src/model/config.ts';
import { expectModelFileError as expectError } from './model-file-error.ts';
import { readSafetensors, writeSafetensors, type TensorInput } from '../src/model/safetensors.ts';

const common = {
  format_version: 1,
  d_model: 8,
  nhead: 2,
  dim_feedforward: 16,
  activation: 'relu',
  layer_norm_eps: 1e-5,
  norm_first: false,
  batch_first: true,
  bias: true,
};
const transformerJson = { ...common, kind: 'transformer', num_encoder_layers: 2, num_decoder_layers: 2, encoder_norm: true, decoder_norm: true };
const encoderJson = { ...common, kind: 'encoder', num_encoder_layers: 3, num_decoder_layers: 0, encoder_norm: true, decoder_norm: false };
const decoderJson = { ...common, kind: 'decoder', num_encoder_layers: 0, num_decoder_layers: 1, encoder_norm: false, decoder_norm: false };
const token = { positional: 'learned', max_len: 32, embed_scale: Math.sqrt(8), pad_id: 0, bos_id: 1, eos_id: 2 };
const seq2seqJson = {
  ...transformerJson,
  ...token,
  kind: 'seq2seq',
  num_encoder_layers: 1,
  num_decoder_layers: 1,
  src_vocab: ['<pad>', '<s>', '</s>', 'a', 'b'],
  tgt_vocab: ['<pad>', '<s>', '</s>', 'x', 'y', 'z'],
};
const lmJson = { ...encoderJson, ...token, kind: 'lm', num_encoder_layers: 2, positional: 'sinusoidal', vocab: ['<pad>', '<s>', '</s>', 'a'], causal: true };

/** Deterministic values for every expected tensor. */
function weights(config: ModelConfig): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  let seed = 1;
  for (const [name, shape] of expectedTensors(config)) {
    const a = new Float32Array(shape.reduce((x, y) => x * y, 1));
    for (let i = 0; i < a.length; i++) a[i] = Math.fround(((seed = (seed * 48271) % 2147483647) / 2147483647) * 2 - 1);
    out.set(name, a);
  }
  return out;
}

/** A safetensors file with the config as metadata and the given tensors (F32 unless said). */
function file(configJson: unknown, tensors: Map<string, Float32Array>, dtype: TensorInput['dtype'] = 'F32'): Uint8Array {
  const list = [...tensors].map(([name, data]) => ({ name, dtype, shape: expectedShape(configJson, name) ?? [data.length], data }));
  return writeSafetensors(list, { attnscope: JSON.stringify(configJson) });
}

function expectedShape(configJson: unknown, name: string): number[] | undefined {
  return expectedTensors(parseConfig(configJson)).get(name);
}

describe('parseConfig', () => {
  it('accepts every kind and returns exactly the documented keys', () => {
    for (const json of [transformerJson, encoderJson, decoderJson, seq2seqJson, lmJson]) {
      const c = parseConfig(json, 'x');
      expect(c).toEqual(json);
      expect(JSON.parse(JSON.stringify(c))).toEqual(json);
    }
  });

  it('defaults absent pad_id / bos_id / eos_id to null and accepts explicit null', () => {
    const json: Record<string, unknown> = { ...lmJson, eos_id: null };
    delete json.pad_id;
    delete json.bos_id;
    const c = parseConfig(json);
    expect(c).toMatchObject({ pad_id: null, bos_id: null, eos_id: null });
  });

  it('passes undocumented keys back as extra, outside the config', () => {
    const { config, extra } = splitConfig({ ...encoderJson, name: 'demo', torch_version: '1.13' });
    expect(config).toEqual(encoderJson);
    expect(extra).toEqual({ name: 'demo', torch_version: '1.13' });
    expect(splitConfig(encoderJson).extra).toEqual({});
  });

  it('rejects non-objects and unsupported versions', () => {
    expectError(() => parseConfig([1], 'm.st'), 'config', 'm.st', 'an array');
    expectError(() => parseConfig('x', 'm.st'), 'config', 'string');
    expectError(() => parseConfig({ ...transformerJson, format_version: 2 }, 'm.st'), 'config', '"format_version"', '2', 'format_version 1');
  });

  const bad: Array<[string, Record<string, unknown>, string[]]> = [
    ['missing field', { d_model: undefined }, ['"d_model"', 'missing']],
    ['unknown kind', { kind: 'gpt' }, ['"kind"', '"gpt"', '"transformer"']],
    ['non-integer d_model', { d_model: 8.5 }, ['"d_model"', '8.5', 'not an integer']],
    ['string d_model', { d_model: '8' }, ['"d_model"', '"8"', 'not an integer']],
    ['zero d_model', { d_model: 0 }, ['"d_model"', 'minimum 1']],
    ['absurd d_model', { d_model: 1 << 20, nhead: 1 }, ['"d_model"', '1048576', 'limit 65536']],
    ['nhead not dividing', { nhead: 3 }, ['"nhead"', '3 does not divide d_model 8']],
    ['zero nhead', { nhead: 0 }, ['"nhead"', 'minimum 1']],
    ['absurd layers', { num_encoder_layers: 5000 }, ['"num_encoder_layers"', '5000', 'limit 1024']],
    ['negative layers', { num_decoder_layers: -1 }, ['"num_decoder_layers"', '-1']],
    ['zero dim_feedforward', { dim_feedforward: 0 }, ['"dim_feedforward"']],
    ['bad activation', { activation: 'silu' }, ['"activation"', '"silu"', '"gelu"']],
    ['eps zero', { layer_norm_eps: 0 }, ['"layer_norm_eps"', '0', '> 0']],
    ['eps string', { layer_norm_eps: '1e-5' }, ['"layer_norm_eps"', '"1e-5"']],
    ['bool as string', { norm_first: 'false' }, ['"norm_first"', '"false"', 'true or false']],
    ['bias as number', { bias: 1 }, ['"bias"', '1']],
    ['transformer without encoder norm', { encoder_norm: false }, ['"encoder_norm"', 'always has a final encoder norm']],
    ['transformer without decoder norm', { decoder_norm: false }, ['"decoder_norm"']],
    ['token key on a stack kind', { vocab: ['a'] }, ['"vocab"', 'not a config key for kind "transformer"', 'only for lm']],
  ];
  for (const [what, patch, fragments] of bad) {
    it(`rejects ${what}`, () => {
      const json: Record<string, unknown> = { ...transformerJson, ...patch };
      for (const k of Object.keys(patch)) if (patch[k] === undefined) delete json[k];
      const e = expectError(() => parseConfig(json, 'm.safetensors'), 'config', 'm.safetensors', ...fragments);
      expect(e.tensor).toBeDefined();
    });
  }

  it('enforces which stacks each kind has', () => {
    expectError(() => parseConfig({ ...encoderJson, num_decoder_layers: 2 }), 'config', '"num_decoder_layers"', 'no decoder');
    expectError(() => parseConfig({ ...encoderJson, decoder_norm: true }), 'config', '"decoder_norm"', 'no decoder');
    expectError(() => parseConfig({ ...decoderJson, num_encoder_layers: 1 }), 'config', '"num_encoder_layers"', 'no encoder');
    expectError(() => parseConfig({ ...decoderJson, encoder_norm: true }), 'config', '"encoder_norm"', 'no encoder');
    expectError(() => parseConfig({ ...lmJson, num_decoder_layers: 1 }), 'config', '"num_decoder_layers"');
    expectError(() => parseConfig({ ...seq2seqJson, decoder_norm: false }), 'config', '"decoder_norm"');
  });

  it('validates token-model fields', () => {
    expectError(() => parseConfig({ ...lmJson, vocab: ['a', 3] }), 'config', '"vocab"', 'entry 1', 'not a string');
    expectError(() => parseConfig({ ...lmJson, vocab: [] }), 'config', '"vocab"', 'empty');
    expectError(() => parseConfig({ ...lmJson, vocab: 'abc' }), 'config', '"vocab"', 'not an array of strings');
    expectError(() => parseConfig({ ...lmJson, vocab: undefined }), 'config', '"vocab"', 'missing');
    expectError(() => parseConfig({ ...lmJson, causal: undefined }), 'config', '"causal"', 'missing');
    expectError(() => parseConfig({ ...lmJson, positional: 'rope' }), 'config', '"positional"', '"rope"');
    expectError(() => parseConfig({ ...lmJson, max_len: 0 }), 'config', '"max_len"');
    expectError(() => parseConfig({ ...lmJson, max_len: 2_000_000 }), 'config', '"max_len"', 'limit 1000000');
    expectError(() => parseConfig({ ...lmJson, embed_scale: null }), 'config', '"embed_scale"', 'null');
    expectError(() => parseConfig({ ...lmJson, pad_id: 4 }), 'config', '"pad_id"', '4', '0..3', 'vocab has 4');
    expectError(() => parseConfig({ ...lmJson, eos_id: 1.5 }), 'config', '"eos_id"', '1.5');
    // seq2seq ids index the target vocabulary
    expectError(() => parseConfig({ ...seq2seqJson, bos_id: 5 + 1 }), 'config', '"bos_id"', 'tgt_vocab has 6');
    expect(parseConfig({ ...seq2seqJson, bos_id: 5 })).toMatchObject({ bos_id: 5 });
    expectError(() => parseConfig({ ...seq2seqJson, causal: true }), 'config', '"causal"', 'not a config key for kind "seq2seq"');
    expectError(() => parseConfig({ ...seq2seqJson, vocab: ['a'] }), 'config', '"vocab"');
    expectError(() => parseConfig({ ...seq2seqJson, src_vocab: undefined }), 'config', '"src_vocab"', 'missing');
  });
});

describe('expectedTensors', () => {
  it('names and shapes every nn.Transformer tensor (2 + 2 layers, bias)', () => {
    const t = expectedTensors(parseConfig(transformerJson));
    // encoder layer: self_attn 4 + linear1 2 + linear2 2 + norm1 2 + norm2 2 = 12; decoder layer adds multihead_attn 4 + norm3 2
    expect(t.size).toBe(2 * 12 + 2 + 2 * 18 + 2);
    const E = 8;
    const F = 16;
    expect(t.get('encoder.layers.0.self_attn.in_proj_weight')).toEqual([3 * E, E]);
    expect(t.get('encoder.layers.1.self_attn.in_proj_bias')).toEqual([3 * E]);
    expect(t.get('encoder.layers.1.self_attn.out_proj.weight')).toEqual([E, E]);
    expect(t.get('encoder.layers.1.self_attn.out_proj.bias')).toEqual([E]);
    expect(t.get('encoder.layers.0.linear1.weight')).toEqual([F, E]);
    expect(t.get('encoder.layers.0.linear1.bias')).toEqual([F]);
    expect(t.get('encoder.layers.0.linear2.weight')).toEqual([E, F]);
    expect(t.get('encoder.layers.0.linear2.bias')).toEqual([E]);
    expect(t.get('encoder.layers.0.norm2.bias')).toEqual([E]);
    expect(t.has('encoder.layers.0.norm3.weight')).toBe(false);
    expect(t.has('encoder.layers.2.norm1.weight')).toBe(false);
    expect(t.get('encoder.norm.weight')).toEqual([E]);
    expect(t.get('decoder.layers.1.multihead_attn.in_proj_weight')).toEqual([3 * E, E]);
    expect(t.get('decoder.layers.1.multihead_attn.out_proj.bias')).toEqual([E]);
    expect(t.get('decoder.layers.0.norm3.bias')).toEqual([E]);
    expect(t.get('decoder.norm.bias')).toEqual([E]);
    // state_dict order: encoder first, layer by layer
    expect([...t.keys()].slice(0, 3)).toEqual([
      'encoder.layers.0.self_attn.in_proj_weight',
      'encoder.layers.0.self_attn.in_proj_bias',
      'encoder.layers.0.self_attn.out_proj.weight',
    ]);
  });

  it('matches torch 1.13 state_dict() names, shapes and order exactly (transformer 2+2, encoder 3 with norm)', () => {
    expect([...expectedTensors(parseConfig(transformerJson))]).toEqual(TORCH_TRANSFORMER_2_2);
    expect([...expectedTensors(parseConfig(encoderJson))]).toEqual(TORCH_ENCODER_3);
  });

  it('drops every bias when bias is false (LayerNorm and final norms included)', () => {
    const t = expectedTensors(parseConfig({ ...transformerJson, bias: false }));
    expect(t.size).toBe(2 * 6 + 1 + 2 * 9 + 1);
    for (const name of t.keys()) expect(name).not.toMatch(/bias$/);
    expect(t.has('decoder.norm.weight')).toBe(true);
  });

  it('encoder / decoder stacks, with and without the final norm', () => {
    const enc = expectedTensors(parseConfig(encoderJson));
    expect(enc.size).toBe(3 * 12 + 2);
    expect(enc.get('layers.2.self_attn.in_proj_weight')).toEqual([24, 8]);
    expect(enc.get('norm.weight')).toEqual([8]);
    expect(expectedTensors(parseConfig({ ...encoderJson, encoder_norm: false })).size).toBe(36);
    const dec = expectedTensors(parseConfig(decoderJson));
    expect(dec.size).toBe(18);
    expect(dec.get('layers.0.multihead_attn.in_proj_bias')).toEqual([24]);
    expect(dec.has('norm.weight')).toBe(false);
    expect(expectedTensors(parseConfig({ ...decoderJson, decoder_norm: true })).get('norm.bias')).toEqual([8]);
  });

  it('seq2seq: embeddings, learned positions, transformer.*, generator', () => {
    const t = expectedTensors(parseConfig(seq2seqJson));
    expect(t.size).toBe(3 + (12 + 2 + 18 + 2) + 2);
    expect(t.get('src_embed.weight')).toEqual([5, 8]);
    expect(t.get('tgt_embed.weight')).toEqual([6, 8]);
    expect(t.get('pos_embed.weight')).toEqual([32, 8]);
    expect(t.get('transformer.decoder.layers.0.multihead_attn.in_proj_weight')).toEqual([24, 8]);
    expect(t.get('transformer.encoder.norm.weight')).toEqual([8]);
    expect(t.get('generator.weight')).toEqual([6, 8]);
    expect(t.get('generator.bias')).toEqual([6]);
    const noBias = expectedTensors(parseConfig({ ...seq2seqJson, bias: false, positional: 'sinusoidal' }));
    expect(noBias.has('pos_embed.weight')).toBe(false);
    expect(noBias.has('generator.bias')).toBe(false);
    expect(noBias.size).toBe(2 + (6 + 1 + 9 + 1) + 1);
  });

  it('lm: embed, encoder.*, head', () => {
    const t = expectedTensors(parseConfig(lmJson));
    expect(t.size).toBe(1 + 2 * 12 + 2 + 2);
    expect(t.get('embed.weight')).toEqual([4, 8]);
    expect(t.has('pos_embed.weight')).toBe(false);
    expect(t.get('encoder.layers.1.linear2.weight')).toEqual([8, 16]);
    expect(t.get('head.weight')).toEqual([4, 8]);
    expect(t.get('head.bias')).toEqual([4]);
    const learned = expectedTensors(parseConfig({ ...lmJson, positional: 'learned', encoder_norm: false }));
    expect(learned.get('pos_embed.weight')).toEqual([32, 8]);
    expect(learned.has('encoder.norm.weight')).toBe(false);
  });
});

describe('readModelFile / writeModelFile', () => {
  it('round-trips every kind', () => {
    for (const json of [transformerJson, encoderJson, decoderJson, seq2seqJson, lmJson, { ...transformerJson, bias: false }]) {
      const config = parseConfig(json);
      const w = weights(config);
      const back = readModelFile(writeModelFile(config, w), 'rt.safetensors');
      expect(back.config).toEqual(config);
      expect([...back.tensors.keys()]).toEqual([...expectedTensors(config).keys()]);
      for (const [name, data] of w) expect(back.tensors.get(name), name).toEqual(data);
    }
  });

  it('writes F32 tensors with the config JSON under __metadata__.attnscope', () => {
    const config = parseConfig(encoderJson);
    const st = readSafetensors(writeModelFile(config, weights(config)));
    expect(JSON.parse(st.metadata.attnscope)).toEqual(encoderJson);
    for (const t of st.tensors.values()) expect(t.dtype).toBe('F32');
  });

  it('round-trips extra config keys, which may not shadow documented ones', () => {
    const config = parseConfig(encoderJson);
    const back = readModelFile(writeModelFile(config, weights(config), { name: 'demo' }));
    expect(back.extra).toEqual({ name: 'demo' });
    expect(back.config).toEqual(config);
    expect(readModelFile(writeModelFile(config, weights(config))).extra).toEqual({});
    expectError(() => writeModelFile(config, weights(config), { vocab: ['a'] }), 'config', '"vocab"', 'documented key');
  });

  it('widens F16 and BF16 model files to f32', () => {
    const config = parseConfig(decoderJson);
    const w = weights(config);
    for (const dtype of ['F16', 'BF16'] as const) {
      const back = readModelFile(file(decoderJson, w, dtype), 'half.safetensors');
      const a = back.tensors.get('layers.0.linear1.weight')!;
      const b = w.get('layers.0.linear1.weight')!;
      expect(a).toBeInstanceOf(Float32Array);
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(dtype === 'F16' ? 2 ** -11 : 2 ** -8);
    }
  });

  it('says how to make a model file when the attnscope metadata is absent', () => {
    const bytes = writeSafetensors([{ name: 'x', dtype: 'F32', shape: [1], data: [1] }], { format: 'pt' });
    expectError(() => readModelFile(bytes, 'hf.safetensors'), 'config', 'hf.safetensors', 'not an attnscope model file', 'tools/export_torch.py');
    expectError(() => readModelFile(writeSafetensors([]), 'empty.safetensors'), 'config', 'not an attnscope model file');
  });

  it('rejects attnscope metadata that is not JSON or not a valid config', () => {
    const bad = writeSafetensors([], { attnscope: '{"kind": ' });
    expectError(() => readModelFile(bad, 'm.safetensors'), 'config', 'm.safetensors', 'not valid JSON');
    const badNhead = writeSafetensors([], { attnscope: JSON.stringify({ ...encoderJson, nhead: 3 }) });
    expectError(() => readModelFile(badNhead, 'm.safetensors'), 'config', 'm.safetensors', '"nhead"', '3 does not divide');
  });

  it('missing: names the first absent tensor, its shape and how many more', () => {
    const w = weights(parseConfig(transformerJson));
    w.delete('decoder.layers.1.multihead_attn.in_proj_weight');
    w.delete('decoder.norm.bias');
    const e = expectError(
      () => readModelFile(file(transformerJson, w), 'm.safetensors'),
      'missing',
      'm.safetensors',
      '"decoder.layers.1.multihead_attn.in_proj_weight" [24, 8]',
      'and 1 more',
    );
    expect(e.tensor).toBe('decoder.layers.1.multihead_attn.in_proj_weight');
  });

  it('missing: hints at a name prefix when the file holds the same names under another prefix', () => {
    const w = weights(parseConfig(transformerJson));
    const prefixed = new Map([...w].map(([n, d]) => [`transformer.${n}`, d]));
    const list = [...prefixed].map(([name, data]) => ({ name, dtype: 'F32' as const, shape: [data.length], data }));
    const bytes = writeSafetensors(list, { attnscope: JSON.stringify(transformerJson) });
    expectError(() => readModelFile(bytes, 'm.safetensors'), 'missing', '"transformer.encoder.layers.0.self_attn.in_proj_weight"', 'prefix');
  });

  it('shape: names the tensor, the expected and the actual shape', () => {
    const config = parseConfig(encoderJson);
    const w = weights(config);
    const list = [...w].map(([name, data]) => ({ name, dtype: 'F32' as const, shape: [...expectedTensors(config).get(name)!], data }));
    const t = list.find((x) => x.name === 'layers.1.linear1.weight')!;
    t.shape = [8, 16]; // transposed
    const bytes = writeSafetensors(list, { attnscope: JSON.stringify(encoderJson) });
    const e = expectError(() => readModelFile(bytes, 'm.safetensors'), 'shape', 'm.safetensors', '"layers.1.linear1.weight"', 'shape [8, 16]', 'expected [16, 8]');
    expect(e.tensor).toBe('layers.1.linear1.weight');
  });

  it('unexpected: lists up to five extra names', () => {
    const w = weights(parseConfig(decoderJson));
    for (let i = 0; i < 7; i++) w.set(`extra.${i}`, new Float32Array(1));
    const e = expectError(() => readModelFile(file(decoderJson, w), 'm.safetensors'), 'unexpected', 'm.safetensors', '7 tensors', '"extra.0"', '"extra.4"', '…');
    expect(e.message).not.toContain('"extra.5"');
    const one = weights(parseConfig(decoderJson));
    one.set('pos_encoder.pe', new Float32Array(4));
    expectError(() => readModelFile(file(decoderJson, one), 'm.safetensors'), 'unexpected', '1 tensor not part', '"pos_encoder.pe"');
  });

  it('dtype: integer weights are refused', () => {
    const config = parseConfig(decoderJson);
    const list: TensorInput[] = [...weights(config)].map(([name, data]) => ({ name, dtype: 'F32', shape: expectedTensors(config).get(name)!, data }));
    list[3] = { ...list[3], dtype: 'I32', data: new Int32Array(list[3].data.length) };
    const bytes = writeSafetensors(list, { attnscope: JSON.stringify(decoderJson) });
    expectError(() => readModelFile(bytes, 'm.safetensors'), 'dtype', `"${list[3].name}"`, 'I32', 'F32, F16, BF16 or F64');
  });

  it('writeModelFile checks its tensors too', () => {
    const config = parseConfig(decoderJson);
    const w = weights(config);
    w.set('layers.0.norm1.bias', new Float32Array(3));
    expectError(() => writeModelFile(config, w), 'shape', 'model writer', '"layers.0.norm1.bias"', 'has 3 values', 'expected [8]');
    w.delete('layers.0.norm1.bias');
    expectError(() => writeModelFile(config, w), 'missing', '"layers.0.norm1.bias"');
    const x = weights(config);
    x.set('extra', new Float32Array(1));
    expectError(() => writeModelFile(config, x), 'unexpected', '"extra"');
    expectError(() => writeModelFile({ ...config, nhead: 3 }, weights(config)), 'config', '"nhead"');
  });
});

// [name, shape] of state_dict() in torch 1.13 for nn.Transformer(d_model=8, nhead=2, num_encoder_layers=2,
// num_decoder_layers=2, dim_feedforward=16) and nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 3,
// norm=nn.LayerNorm(8)).
const TORCH_TRANSFORMER_2_2: Array<[string, number[]]> = [["encoder.layers.0.self_attn.in_proj_weight",[24,8]],["encoder.layers.0.self_attn.in_proj_bias",[24]],["encoder.layers.0.self_attn.out_proj.weight",[8,8]],["encoder.layers.0.self_attn.out_proj.bias",[8]],["encoder.layers.0.linear1.weight",[16,8]],["encoder.layers.0.linear1.bias",[16]],["encoder.layers.0.linear2.weight",[8,16]],["encoder.layers.0.linear2.bias",[8]],["encoder.layers.0.norm1.weight",[8]],["encoder.layers.0.norm1.bias",[8]],["encoder.layers.0.norm2.weight",[8]],["encoder.layers.0.norm2.bias",[8]],["encoder.layers.1.self_attn.in_proj_weight",[24,8]],["encoder.layers.1.self_attn.in_proj_bias",[24]],["encoder.layers.1.self_attn.out_proj.weight",[8,8]],["encoder.layers.1.self_attn.out_proj.bias",[8]],["encoder.layers.1.linear1.weight",[16,8]],["encoder.layers.1.linear1.bias",[16]],["encoder.layers.1.linear2.weight",[8,16]],["encoder.layers.1.linear2.bias",[8]],["encoder.layers.1.norm1.weight",[8]],["encoder.layers.1.norm1.bias",[8]],["encoder.layers.1.norm2.weight",[8]],["encoder.layers.1.norm2.bias",[8]],["encoder.norm.weight",[8]],["encoder.norm.bias",[8]],["decoder.layers.0.self_attn.in_proj_weight",[24,8]],["decoder.layers.0.self_attn.in_proj_bias",[24]],["decoder.layers.0.self_attn.out_proj.weight",[8,8]],["decoder.layers.0.self_attn.out_proj.bias",[8]],["decoder.layers.0.multihead_attn.in_proj_weight",[24,8]],["decoder.layers.0.multihead_attn.in_proj_bias",[24]],["decoder.layers.0.multihead_attn.out_proj.weight",[8,8]],["decoder.layers.0.multihead_attn.out_proj.bias",[8]],["decoder.layers.0.linear1.weight",[16,8]],["decoder.layers.0.linear1.bias",[16]],["decoder.layers.0.linear2.weight",[8,16]],["decoder.layers.0.linear2.bias",[8]],["decoder.layers.0.norm1.weight",[8]],["decoder.layers.0.norm1.bias",[8]],["decoder.layers.0.norm2.weight",[8]],["decoder.layers.0.norm2.bias",[8]],["decoder.layers.0.norm3.weight",[8]],["decoder.layers.0.norm3.bias",[8]],["decoder.layers.1.self_attn.in_proj_weight",[24,8]],["decoder.layers.1.self_attn.in_proj_bias",[24]],["decoder.layers.1.self_attn.out_proj.weight",[8,8]],["decoder.layers.1.self_attn.out_proj.bias",[8]],["decoder.layers.1.multihead_attn.in_proj_weight",[24,8]],["decoder.layers.1.multihead_attn.in_proj_bias",[24]],["decoder.layers.1.multihead_attn.out_proj.weight",[8,8]],["decoder.layers.1.multihead_attn.out_proj.bias",[8]],["decoder.layers.1.linear1.weight",[16,8]],["decoder.layers.1.linear1.bias",[16]],["decoder.layers.1.linear2.weight",[8,16]],["decoder.layers.1.linear2.bias",[8]],["decoder.layers.1.norm1.weight",[8]],["decoder.layers.1.norm1.bias",[8]],["decoder.layers.1.norm2.weight",[8]],["decoder.layers.1.norm2.bias",[8]],["decoder.layers.1.norm3.weight",[8]],["decoder.layers.1.norm3.bias",[8]],["decoder.norm.weight",[8]],["decoder.norm.bias",[8]]];
const TORCH_ENCODER_3: Array<[string, number[]]> = [["layers.0.self_attn.in_proj_weight",[24,8]],["layers.0.self_attn.in_proj_bias",[24]],["layers.0.self_attn.out_proj.weight",[8,8]],["layers.0.self_attn.out_proj.bias",[8]],["layers.0.linear1.weight",[16,8]],["layers.0.linear1.bias",[16]],["layers.0.linear2.weight",[8,16]],["layers.0.linear2.bias",[8]],["layers.0.norm1.weight",[8]],["layers.0.norm1.bias",[8]],["layers.0.norm2.weight",[8]],["layers.0.norm2.bias",[8]],["layers.1.self_attn.in_proj_weight",[24,8]],["layers.1.self_attn.in_proj_bias",[24]],["layers.1.self_attn.out_proj.weight",[8,8]],["layers.1.self_attn.out_proj.bias",[8]],["layers.1.linear1.weight",[16,8]],["layers.1.linear1.bias",[16]],["layers.1.linear2.weight",[8,16]],["layers.1.linear2.bias",[8]],["layers.1.norm1.weight",[8]],["layers.1.norm1.bias",[8]],["layers.1.norm2.weight",[8]],["layers.1.norm2.bias",[8]],["layers.2.self_attn.in_proj_weight",[24,8]],["layers.2.self_attn.in_proj_bias",[24]],["layers.2.self_attn.out_proj.weight",[8,8]],["layers.2.self_attn.out_proj.bias",[8]],["layers.2.linear1.weight",[16,8]],["layers.2.linear1.bias",[16]],["layers.2.linear2.weight",[8,16]],["layers.2.linear2.bias",[8]],["layers.2.norm1.weight",[8]],["layers.2.norm1.bias",[8]],["layers.2.norm2.weight",[8]],["layers.2.norm2.bias",[8]],["norm.weight",[8]],["norm.bias",[8]]];
