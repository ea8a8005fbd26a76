// Head means and attention rollout of captured attention probabilities [B, H, L, S], on the CPU in f32 (what the
// demo draws and the CLI writes are the same numbers).
import type { CapturedTensor } from '../hooks/registry.ts';

function dims(w: CapturedTensor, what: string): [number, number, number, number] {
  const [B, H, L, S] = w.shape;
  if (w.shape.length !== 4 || w.data.length !== B * H * L * S) throw new Error(`${what}: expected attention weights [B, H, L, S], got [${w.shape.join(', ')}] holding ${w.data.length} values`);
  return [B, H, L, S];
}

/** Mean over heads: [B, H, L, S] -> [B, L, S]; summed in f32 in head order, then divided by H. */
export function headMean(w: CapturedTensor): CapturedTensor {
  const [B, H, L, S] = dims(w, 'headMean');
  const n = L * S;
  const out = new Float32Array(B * n);
  for (let b = 0; b < B; b++) {
    const o = out.subarray(b * n, (b + 1) * n);
    for (let h = 0; h < H; h++) {
      const off = (b * H + h) * n;
      for (let i = 0; i < n; i++) o[i] += w.data[off + i];
    }
  }
  for (let i = 0; i < out.length; i++) out[i] /= H;
  return { shape: [B, L, S], data: out };
}

/**
 * Attention rollout (Abnar & Zuidema 2020) of a stack of self-attention layers [B, H, L, L], first layer first:
 * each layer's head mean mixed with the identity for the residual path, Â = rownorm(0.5·A + 0.5·I), multiplied
 * from the first layer up, R_l = Â_l · R_(l-1). Returns R_l [B, L, L] for every layer (the rollout up to it).
 */
export function rollout(layers: readonly CapturedTensor[]): CapturedTensor[] {
  if (!layers.length) throw new Error('rollout: no layers');
  const [B, , n] = dims(layers[0], 'rollout layer 0');
  const nn = n * n;
  let prev: Float32Array | undefined;
  return layers.map((w, l) => {
    const [b1, , L, S] = dims(w, `rollout layer ${l}`);
    if (b1 !== B || L !== n || S !== n) throw new Error(`rollout: layer ${l} is [${w.shape.join(', ')}], expected square self-attention [${B}, H, ${n}, ${n}] like layer 0`);
    const a = headMean(w).data;
    const r = new Float32Array(B * nn);
    for (let b = 0; b < B; b++) {
      const hat = new Float32Array(nn);
      const ab = a.subarray(b * nn);
      for (let i = 0; i < n; i++) {
        let sum = 0;
        for (let j = 0; j < n; j++) {
          const v = 0.5 * ab[i * n + j] + (i === j ? 0.5 : 0);
          hat[i * n + j] = v;
          sum += v;
        }
        if (sum > 0) for (let j = 0; j < n; j++) hat[i * n + j] /= sum;
      }
      const rb = r.subarray(b * nn, (b + 1) * nn);
      if (!prev) {
        rb.set(hat);
        continue;
      }
      const pb = prev.subarray(b * nn);
      for (let i = 0; i < n; i++) {
        for (let k = 0; k < n; k++) {
          const v = hat[i * n + k];
          if (v === 0) continue;
          for (let j = 0; j < n; j++) rb[i * n + j] += v * pb[k * n + j];
        }
      }
    }
    prev = r;
    return { shape: [B, n, n], data: r };
  });
}
