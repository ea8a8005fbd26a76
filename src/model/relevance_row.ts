// One row of a relevance map (Chefer et al. 2021) computed on the GPU from a backward's attention probabilities and
// gradients where they lie, reading back only the row. The spec is relevanceMaps (relevance.ts), which forms every
// map as full matrix products; one row of them needs only vector-matrix products:
//
//  - A stream of self-attention layers gives R = (I + Ā_L)…(I + Ā_1); row i of it is e_iᵀ propagated through the
//    layers from the last, v ← v + v·Ā (source: encoder or lm; target: decoder).
//  - Cross-attention: R_ts = Σ_c P_{>c} · R̄_{tt,c}ᵀ · Ā_c · R̄_ss over the cross layers c, P_{>c} the product of the
//    decoder self-attention factors after c, R̄ = D⁻¹(R − I) + I with D the row sums of R − I (a zero row stays zero).
//    Row i: u_c = e_iᵀ P_{>c} (propagated as above); u_c R̄_{tt,c}ᵀ = (R̄_{tt,c}·u_c)ᵀ = u_c + D⁻¹ Q u_c with
//    Q = R_tt − I before c, whose products Q x come from the recursion q ← q + Ā(x + q) over the self layers before
//    c (no cancellation: everything is non-negative); D = Q·1 likewise. z = Σ_c y_c·Ā_c, then z·R̄_ss =
//    z + (z D_ss⁻¹)(R_ss − I), the last a row vector propagated through the encoder with r ← r + (w + r)·Ā.
//
// Costs per row O(layers² · T² + layers · S²) instead of O(layers · S³).
import type { GpuContext } from '../gpu/context.ts';
import { add } from '../kernels/add.ts';
import { type Dispatch, encode, release } from '../kernels/dispatch.ts';
import { matmul } from '../kernels/matmul.ts';
import { relevanceNormalize } from '../kernels/relevance_normalize.ts';
import { relevanceWeighted } from '../kernels/relevance_weighted.ts';
import type { AttentionRole, RelevanceMaps } from './relevance.ts';

/** One attention module where a backward left it: probabilities and gradient [B, H, L, S] (no gradient: none reached it). */
export interface RowLayer {
  role: AttentionRole;
  shape: readonly number[];
  weights: GPUBufferBinding;
  grad?: GPUBufferBinding;
}

interface Vec {
  buf: GPUBufferBinding;
  n: number;
}

interface Mat {
  buf: GPUBufferBinding;
  rows: number;
  cols: number;
}

/** The relevance map a model's rows come from: cross-attention's when it has one, else its self-attention stream's. */
export function rowMap(roles: readonly AttentionRole[]): keyof RelevanceMaps {
  if (roles.includes('cross')) return 'cross';
  if (roles.includes('encoder')) return 'source';
  if (roles.includes('decoder')) return 'target';
  throw new Error('relevance: the model has no attention modules');
}

/**
 * The dispatches computing row `row` of one batch element's relevance map, made once for a backward plan's buffers
 * and run after each backward: the one-hot row selector is the only input that changes.
 */
export class RelevanceRowProgram {
  private readonly read: GPUBuffer;

  private constructor(
    private readonly ctx: GpuContext,
    private readonly rec: Recorder,
    readonly map: keyof RelevanceMaps,
    /** Rows of the map (output positions). */
    readonly rows: number,
    private readonly selector: Vec,
    private readonly result: Vec,
  ) {
    this.read = ctx.buffers.create(result.n * 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'relevance row read');
  }

  /** The map's width (input tokens). */
  get width(): number {
    return this.result.n;
  }

  static async build(ctx: GpuContext, layers: readonly RowLayer[], batch: number): Promise<RelevanceRowProgram> {
    const rec = new Recorder(ctx);
    try {
      const { map, selector, result } = await rec.program(layers, batch);
      return new RelevanceRowProgram(ctx, rec, map, selector.n, selector, result);
    } catch (e) {
      rec.dispose();
      throw e;
    }
  }

  /** Row `i` of the map, from the attention buffers as the last backward left them. */
  async row(i: number): Promise<Float32Array> {
    if (!Number.isInteger(i) || i < 0 || i >= this.rows) throw new Error(`relevance: row ${i} of a map of ${this.rows} rows`);
    const { ctx } = this;
    const onehot = new Float32Array(this.rows);
    onehot[i] = 1;
    return ctx.scoped('relevance row', async () => {
      ctx.device.queue.writeBuffer(this.selector.buf.buffer, 0, onehot);
      const enc = ctx.device.createCommandEncoder({ label: 'relevance row' });
      const pass = enc.beginComputePass({ label: 'relevance row' });
      encode(pass, this.rec.dispatches);
      pass.end();
      enc.copyBufferToBuffer(this.result.buf.buffer, this.result.buf.offset ?? 0, this.read, 0, this.width * 4);
      ctx.device.queue.submit([enc.finish()]);
      await this.read.mapAsync(GPUMapMode.READ, 0, this.width * 4);
      const out = new Float32Array(this.read.getMappedRange(0, this.width * 4).slice(0));
      this.read.unmap();
      return out;
    });
  }

  dispose(): void {
    this.rec.dispose();
    this.ctx.buffers.destroy(this.read);
  }
}

/** Records the program: every intermediate vector gets its own small buffer (S floats), every step a dispatch. */
class Recorder {
  readonly dispatches: Dispatch[] = [];
  readonly buffers: GPUBuffer[] = [];
  private readonly consts = new Map<string, Vec>();

  constructor(private readonly ctx: GpuContext) {}

  vec(n: number, label: string): Vec {
    const buffer = this.ctx.buffers.create(n * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, `relevance ${label}`);
    this.buffers.push(buffer);
    return { buf: { buffer, offset: 0, size: n * 4 }, n };
  }

  /** A vector of n copies of `value` (zeros, ones), made once. */
  filled(n: number, value: number): Vec {
    const key = `${n} ${value}`;
    let v = this.consts.get(key);
    if (!v) {
      v = this.vec(n, `${value}s`);
      this.ctx.device.queue.writeBuffer(v.buf.buffer, 0, new Float32Array(n).fill(value));
      this.consts.set(key, v);
    }
    return v;
  }

  /** bias + v·W (W [v.n, N]). */
  async vecmat(v: Vec, w: Mat, bias: Vec, label: string): Promise<Vec> {
    const out = this.vec(w.cols, label);
    this.dispatches.push(await matmul(this.ctx, { a: v.buf, b: w.buf, bias: bias.buf, c: out.buf }, { M: 1, N: w.cols, K: w.rows }, `relevance ${label}`));
    return out;
  }

  /** bias + W·v (W [N, v.n]), as the row vector vᵀ·Wᵀ. */
  async matvec(w: Mat, v: Vec, bias: Vec, label: string): Promise<Vec> {
    const out = this.vec(w.rows, label);
    this.dispatches.push(await matmul(this.ctx, { a: v.buf, b: w.buf, bias: bias.buf, c: out.buf }, { M: 1, N: w.rows, K: w.cols, transB: true }, `relevance ${label}`));
    return out;
  }

  async add(a: Vec, b: Vec, label: string): Promise<Vec> {
    const out = this.vec(a.n, label);
    this.dispatches.push(await add(this.ctx, { a: a.buf, b: b.buf, out: out.buf }, a.n, `relevance ${label}`));
    return out;
  }

  /** (u +) q / s elementwise (s = 0: 0). */
  async normalize(q: Vec, s: Vec, u: Vec | undefined, label: string): Promise<Vec> {
    const out = this.vec(q.n, label);
    this.dispatches.push(await relevanceNormalize(this.ctx, { q: q.buf, s: s.buf, ...(u ? { u: u.buf } : {}), out: out.buf }, q.n, `relevance ${label}`));
    return out;
  }

  /** v·(I + Ā_L)…(I + Ā_1): v propagated through `stream` from its last layer (layers without a factor pass it on). */
  async throughRows(v: Vec, stream: readonly (Mat | undefined)[], label: string): Promise<Vec> {
    for (let k = stream.length - 1; k >= 0; k--) {
      const w = stream[k];
      if (w) v = await this.vecmat(v, w, v, `${label} ${k}`);
    }
    return v;
  }

  /** (P − I)·x for P = (I + Ā_n)…(I + Ā_1) over `stream`: q ← q + Ā(x + q) from the first layer. */
  async minusIdentityTimes(stream: readonly (Mat | undefined)[], x: Vec, label: string): Promise<Vec> {
    let q = this.filled(x.n, 0);
    for (const [k, w] of stream.entries()) if (w) q = await this.matvec(w, await this.add(x, q, `${label} x+q ${k}`), q, `${label} ${k}`);
    return q;
  }

  /** Records the dispatches; returns the map, the row selector (a one-hot input) and the vector holding the row. */
  async program(layers: readonly RowLayer[], batch: number): Promise<{ map: keyof RelevanceMaps; selector: Vec; result: Vec }> {
    const { ctx } = this;
    if (!layers.length) throw new Error('relevance: the model has no attention modules');
    // Ā of each layer (undefined: no gradient reached it, Ā = 0).
    const factors: (Mat | undefined)[] = [];
    for (const [k, l] of layers.entries()) {
      const [B, H, L, S] = l.shape;
      if (l.shape.length !== 4) throw new Error(`relevance: attention ${k} has weights [${l.shape.join(', ')}], not [B, H, L, S]`);
      if (!Number.isInteger(batch) || batch < 0 || batch >= B) throw new Error(`relevance: batch element ${batch} of ${B}`);
      if (!l.grad) {
        factors.push(undefined);
        continue;
      }
      const out = this.vec(L * S, `Ā ${k}`);
      this.dispatches.push(await relevanceWeighted(ctx, { probs: l.weights, grad: l.grad, out: out.buf }, { B, H, L, S }, batch, `relevance Ā ${k}`));
      factors.push({ buf: out.buf, rows: L, cols: S });
    }
    const idx = (role: AttentionRole) => layers.flatMap((l, k) => (l.role === role ? [k] : []));
    const enc = idx('encoder');
    const dec = layers.flatMap((l, k) => (l.role === 'encoder' ? [] : [k]));
    const map = rowMap(layers.map((l) => l.role));
    // The stream whose rows are the map's rows, and the one-hot row selector sized for them.
    const rowsOf = (k: number) => layers[k].shape[2];
    const rows = map === 'source' ? rowsOf(enc[0]) : rowsOf(dec[0]);
    const selectorVec = this.vec(rows, 'row selector');
    let result: Vec;
    if (map !== 'cross') {
      result = await this.throughRows(selectorVec, (map === 'source' ? enc : dec).map((k) => factors[k]), 'row');
    } else {
      const S = layers[dec.find((k) => layers[k].role === 'cross')!].shape[3];
      // u_c = e_iᵀ·P_{>c}, from the last decoder layer back.
      const uAt = new Map<number, Vec>();
      let u = selectorVec;
      for (let j = dec.length - 1; j >= 0; j--) {
        const k = dec[j];
        const w = factors[k];
        if (layers[k].role === 'cross') uAt.set(k, u);
        else if (w) u = await this.vecmat(u, w, u, `u ${k}`);
      }
      // D before each cross layer: the row sums of R_tt − I so far.
      const selfBefore = (c: number) => dec.filter((k) => k < c && layers[k].role === 'decoder').map((k) => factors[k]);
      let z = this.filled(S, 0);
      for (const c of dec.filter((k) => layers[k].role === 'cross')) {
        const w = factors[c];
        if (!w) continue;
        const uc = uAt.get(c)!;
        const d = await this.minusIdentityTimes(selfBefore(c), this.filled(rows, 1), `D ${c}`);
        const q = await this.minusIdentityTimes(selfBefore(c), uc, `Q·u ${c}`);
        const y = await this.normalize(q, d, uc, `R̄ᵀ u ${c}`);
        z = await this.vecmat(y, w, z, `z ${c}`);
      }
      const encoder = enc.map((k) => factors[k]);
      if (encoder.some((w) => w)) {
        // z·R̄_ss = z + (z D⁻¹)(R_ss − I).
        const d = await this.minusIdentityTimes(encoder, this.filled(S, 1), 'D source');
        const w = await this.normalize(z, d, undefined, 'z D⁻¹');
        let r = this.filled(S, 0);
        for (let j = encoder.length - 1; j >= 0; j--) {
          const a = encoder[j];
          if (a) r = await this.vecmat(await this.add(w, r, `w+r ${j}`), a, r, `r ${j}`);
        }
        z = await this.add(z, r, 'z R̄');
      }
      result = z;
    }
    return { map, selector: selectorVec, result };
  }

  dispose(): void {
    release(this.ctx, this.dispatches);
    for (const buf of this.buffers) this.ctx.buffers.destroy(buf);
  }
}
