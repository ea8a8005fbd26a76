// What the Hugging Face families read from config.json alike: the architecture (which head), activations by HF's
// names, a width with a head count that divides it, and the caps on sizes.
import type { ActivationKind } from '../../kernels/activation.ts';
import type { ConfigFields } from './fields.ts';

/** A cap on sizes well beyond any published model, so a garbled config.json fails here rather than in an allocation. */
export const HF_LIMIT = 1 << 24;

/** HF's ACT2FN names (transformers/activations.py) attnscope's activation kernel computes. */
export const ACT2FN: Readonly<Record<string, ActivationKind>> = { gelu: 'gelu', gelu_new: 'gelu_tanh', gelu_pytorch_tanh: 'gelu_tanh', relu: 'relu' };

/** The head named by config.json's architectures (its first entry; none: the base model), one of `table`'s. */
export function architecture<H extends string>(f: ConfigFields, table: Readonly<Record<string, H>>, base: H): H {
  const arch = f.raw('architectures');
  const named = Array.isArray(arch) ? arch[0] : undefined;
  if (named === undefined) return base;
  if (typeof named !== 'string' || !(named in table)) f.fail('architectures', `${JSON.stringify(named)} is not supported (supported: ${Object.keys(table).join(', ')})`);
  return table[named as string];
}

/** A model width and a head count that divides it (hidden_size / num_attention_heads, n_embd / n_head, dim / n_heads). */
export function widthAndHeads(f: ConfigFields, width: string, heads: string): [number, number] {
  const w = f.int(width, 1, HF_LIMIT);
  const h = f.int(heads, 1, w);
  if (w % h !== 0) f.fail(heads, `${h} does not divide ${width} ${w}`);
  return [w, h];
}
