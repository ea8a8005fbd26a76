// How sure the model was: at each output position, the softmax of its logits (the analysis's forward), the top-k next
// tokens with their probabilities and the entropy of the whole distribution, and one sentence saying what they mean.

/** A candidate next token. */
export interface Guess {
  id: number;
  token: string;
  prob: number;
}

/** One position's next-token distribution. */
export interface PositionConfidence {
  position: number;
  /** The k most likely tokens, most likely first. */
  top: Guess[];
  /** Entropy of the distribution in nats: 0 when one token has all the mass, ln(V) when all are equally likely. */
  entropy: number;
}

export interface Confidence {
  /** Every position of the forward, in order. */
  positions: PositionConfidence[];
  /** Vocabulary size V: the entropy's ceiling is ln(V). */
  vocab: number;
  /** Positions whose prediction became the output (generated steps; a masked lm's masks), in order. */
  outputs: number[];
}

/** Top `k` of a softmax over `logits[offset, offset + V)` and its entropy (f64, max subtracted). */
export function positionConfidence(logits: ArrayLike<number>, offset: number, V: number, k: number, label: (id: number) => string): Omit<PositionConfidence, 'position'> {
  if (!(V >= 1) || offset < 0 || offset + V > logits.length) throw new Error(`confidence: logits [${offset}, ${offset + V}) are outside ${logits.length} values`);
  let max = -Infinity;
  for (let v = 0; v < V; v++) max = Math.max(max, logits[offset + v]);
  if (!Number.isFinite(max)) throw new Error(`confidence: the logits at ${offset / V} have no finite maximum (${max})`);
  let z = 0;
  for (let v = 0; v < V; v++) z += Math.exp(logits[offset + v] - max);
  const logZ = Math.log(z);
  // H = -Σ p ln p with ln p = x - max - ln Z
  let entropy = 0;
  const best: { id: number; lp: number }[] = [];
  for (let v = 0; v < V; v++) {
    const lp = logits[offset + v] - max - logZ;
    entropy -= Math.exp(lp) * lp;
    if (best.length < k || lp > best[best.length - 1].lp) {
      let at = best.length;
      while (at > 0 && best[at - 1].lp < lp) at--;
      best.splice(at, 0, { id: v, lp });
      if (best.length > k) best.pop();
    }
  }
  return { top: best.map((b) => ({ id: b.id, token: label(b.id), prob: Math.exp(b.lp) })), entropy: Math.max(0, entropy) };
}

/**
 * Every position of a forward's logits `output` ([1, T, V] batch first, else [T, 1, V]; batch element 0 either way
 * for one sequence).
 */
export function confidence(output: Float32Array, shape: readonly number[], batchFirst: boolean, label: (id: number) => string, outputs: number[], k = 5): Confidence {
  const [d0, d1, V] = shape;
  const [B, T] = batchFirst ? [d0, d1] : [d1, d0];
  if (shape.length !== 3 || B !== 1) throw new Error(`confidence: logits [${shape.join(', ')}] are not one sequence`);
  const positions = Array.from({ length: T }, (_, t) => ({ position: t, ...positionConfidence(output, t * V, V, k, label) }));
  return { positions, vocab: V, outputs: outputs.filter((p) => p >= 0 && p < T) };
}

/** 99.98%, 42%, 3.1%: near certainty keeps the digits that show it is not certainty. */
export const pct = (p: number): string => `${(100 * p).toFixed(p >= 0.995 ? 2 : p < 0.1 ? 1 : 0)}%`;

/** The model's words for what it produced: 'output token' for a generated sequence, 'prediction' otherwise. */
export type Wording = { unit: string; where: (position: number, index: number) => string };

/**
 * One sentence on how sure the model was about what it output: confident when every output position's top token had
 * at least 90%, guessing when the mean entropy is near its ceiling (over 70% of ln V), unsure otherwise — naming the
 * least sure position and its top probability.
 */
export function confidenceHint(c: Confidence, w: Wording): { level: 'confident' | 'unsure' | 'guessing'; text: string } | undefined {
  const at = c.outputs.map((p) => c.positions[p]);
  if (!at.length) return undefined;
  let worst = 0;
  at.forEach((p, i) => {
    if (p.top[0].prob < at[worst].top[0].prob) worst = i;
  });
  const w0 = at[worst];
  const ceiling = Math.log(c.vocab);
  const meanH = at.reduce((s, p) => s + p.entropy, 0) / at.length;
  const entropy = `mean entropy ${meanH.toFixed(2)} nats of at most ${ceiling.toFixed(2)}`;
  const least = `${w.where(w0.position, worst)}: top token ${JSON.stringify(w0.top[0].token)} ${pct(w0.top[0].prob)}${w0.top[1] ? `, next ${JSON.stringify(w0.top[1].token)} ${pct(w0.top[1].prob)}` : ''}`;
  if (w0.top[0].prob >= 0.9) return { level: 'confident', text: `The model is confident: every ${w.unit}'s top token had at least 90% (lowest ${pct(w0.top[0].prob)}, ${w.where(w0.position, worst)}); ${entropy}.` };
  if (ceiling > 0 && meanH > 0.7 * ceiling) return { level: 'guessing', text: `The model is guessing: its next-token distributions are close to uniform (${entropy}); least sure ${least}.` };
  return { level: 'unsure', text: `The model is unsure: ${least}; ${entropy}.` };
}
