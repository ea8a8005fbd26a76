// A model's attention modules as the model knows them (Model.attentionModules()), so that callers group and label
// them without guessing from paths.
import type { AttentionRole } from '../model/relevance.ts';

/** One MultiheadAttention of a model. */
export interface AttentionModuleInfo {
  /** PyTorch module path, e.g. 'transformer.decoder.layers.1.multihead_attn'. */
  path: string;
  /** Encoder self-attention, decoder self-attention or cross-attention, from the layer that owns it. */
  role: AttentionRole;
  /** Index of the layer in its stack. */
  layer: number;
  heads: number;
  /** Self-attention whose queries see no later keys when the model decodes: a causal lm's, a decoder's. */
  causal: boolean;
}

/**
 * The stacks a model's attention modules form: its self-attention streams (the ones rollout multiplies through) and
 * its cross-attention. A causal lm's self-attention sits in encoder layers but is a stream of its own, 'lm'.
 */
export type AttentionStream = 'encoder' | 'decoder' | 'lm' | 'cross';

export const attentionStream = (m: AttentionModuleInfo): AttentionStream => (m.role === 'encoder' && m.causal ? 'lm' : m.role);

/** The modules of each stream ordered by layer; streams in the order their first module comes. */
export function byStream(modules: readonly AttentionModuleInfo[]): Map<AttentionStream, AttentionModuleInfo[]> {
  const out = new Map<AttentionStream, AttentionModuleInfo[]>();
  for (const m of modules) {
    const s = attentionStream(m);
    out.set(s, [...(out.get(s) ?? []), m]);
  }
  for (const ms of out.values()) ms.sort((a, b) => a.layer - b.layer);
  return out;
}
