// A masked lm's answer: for each mask token in the input, the head's most likely tokens there (softmax of the logits
// of the forward the page already ran), and the input with each mask replaced by the likeliest.
import type { ForwardResult } from '../src/index.ts';
import type { TextModel } from './text-model.ts';

export interface Fill {
  /** The mask's position in the sequence. */
  position: number;
  candidates: { id: number; label: string; p: number }[];
}

/** Undefined when `ids` holds no mask (or the model has none); fwd.output is the logits [1, L, V]. */
export function fillMasks(fwd: ForwardResult, ids: readonly number[], text: TextModel, k = 5): { fills: Fill[]; filled: string } | undefined {
  const mask = text.mask;
  if (!mask || !ids.includes(mask.id)) return undefined;
  const V = fwd.shape[2];
  const fills: Fill[] = [];
  const filled = [...ids];
  ids.forEach((id, position) => {
    if (id !== mask.id) return;
    const row = fwd.output.subarray(position * V, (position + 1) * V);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    const top = [...row.keys()].sort((a, b) => row[b] - row[a]).slice(0, k);
    fills.push({ position, candidates: top.map((t) => ({ id: t, label: text.label(t), p: Math.exp(row[t] - max) / sum })) });
    filled[position] = top[0];
  });
  return { fills, filled: text.decode(filled) };
}
