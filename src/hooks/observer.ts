import { ATTN_SELECT, attnSelect, attnSelection } from '../kernels/attn_select.ts';
import { PATCH_ROWS, patchRows } from '../kernels/patch_rows.ts';
import type { Module } from '../nn/module.ts';
import type { BackwardObserver } from '../scheduler/backward.ts';
import { type Act, type Dim, dimAt, dimsOf, type ModuleCall, type ModuleObserver, type Params, type PlanBuilder, type ProbsChunks, shapeAt, sizeAt } from '../scheduler/plan.ts';
import { type BackwardHookFn, type CapturedTensor, type ForwardHookFn, type Hook, type HookRecord, type PreHookFn, weightSelection } from './registry.ts';
import { type RolloutChain, SummaryRecorder } from './summary.ts';

type Field = 'input' | 'output' | 'weightsGrad' | 'summary';

/** Bytes of probabilities per chunk when an attention module is summarised by chunks of query rows. */
const SUMMARY_CHUNK_BYTES = 64 << 20;

/** What one hook field reads after a run: the capture key of its data, or no key (no gradient: zeros). */
interface CaptureSpec {
  hook: string;
  field: Field;
  index: number;
  key?: string;
  /** The shape, as Dims where it follows the plan's params (a decode step's attention weights). */
  dims: readonly Dim[];
  /** field 'summary': the summary's name. */
  name?: string;
}

/**
 * Turns the registered hooks into plan steps while a forward is recorded: capture copies at module entry
 * (inputs) and exit (outputs), GPU-side cuts of attention weights, and host round trips for hooks whose fn
 * feeds the computation. After a run, `records` assembles what each hook stores.
 */
export class HookObserver implements ModuleObserver, BackwardObserver {
  private readonly specs: CaptureSpec[] = [];
  /** Records made inside host steps during the current run. */
  private readonly hostRecords = new Map<string, HookRecord>();
  /** The attention rollout of this forward so far (hooks with summary.rollout, in forward order). */
  private readonly rollouts = new Map<string, RolloutChain>();
  /** Summary hooks fed chunk by chunk by their module's attention (probsChunks), by hook name. */
  private readonly chunked = new Map<string, SummaryRecorder>();

  constructor(
    private readonly hooks: readonly Hook[],
    private readonly modules: ReadonlyMap<string, Module>,
    /** The hook by name at run time: a cached plan calls the fn registered now, not the one it was built with. */
    private readonly current: (name: string) => Hook | undefined,
    /** Wraps every call of a hook fn (the model refuses forwards from inside one: they would wait on themselves). */
    private readonly callHook: <T>(call: () => T) => T = (call) => call(),
  ) {}

  /** The hooks of a kind on a module; forward hooks and row patches at the module's boundary, or at its merged heads. */
  private on(path: string, kind: Hook['kind'], heads = false): Hook[] {
    return this.hooks.filter((h) => h.path === path && h.kind === kind && (kind !== 'forward' || (h.opts.site === 'heads') === heads) && (kind !== 'patch_rows' || (h.rows!.at === 'heads') === heads));
  }

  observes(path: string): boolean {
    return this.hooks.some((h) => h.path === path);
  }

  headScales(path: string): GPUBuffer | undefined {
    return this.on(path, 'scale_heads')[0]?.buffer;
  }

  wantsWeights(path: string): boolean {
    return this.on(path, 'forward').length > 0;
  }

  observesBackward(path: string): boolean {
    return this.on(path, 'backward').length > 0;
  }

  private capture(b: PlanBuilder, h: Hook, field: Field, index: number, a: Act, name?: string): void {
    const key = b.capture(a, `hook '${h.name}' on ${h.path} ${name ?? `${field}[${index}]`}`);
    this.specs.push({ hook: h.name, field, index, key, dims: dimsOf(a), ...(name ? { name } : {}) });
  }

  private module(path: string): Module {
    return this.modules.get(path)!;
  }

  private hookNow(h: Hook): Hook {
    const now = this.current(h.name);
    if (!now) throw new Error(`hook '${h.name}' was removed while a forward was running`);
    return now;
  }

  enter(b: PlanBuilder, path: string, inputs: readonly Act[]): readonly Act[] {
    let ins = [...inputs];
    for (const h of this.on(path, 'forward_pre')) {
      if (!h.fn) {
        ins.forEach((a, i) => this.capture(b, h, 'input', i, a));
        continue;
      }
      // fn decides what the module sees: read back, call it, write the result into fresh activations.
      const seen = ins;
      const uniq = [...new Set(seen)];
      const fresh = uniq.map((a) => b.act(dimsOf(a), `${path} input (pre-hook ${h.name})`));
      b.host(`pre-hook ${h.name}`, uniq, fresh, async (data, p) => {
        const input = seen.map((a) => ({ shape: shapeAt(a, p), data: data[uniq.indexOf(a)] }));
        const given = await this.callHook(() => (this.hookNow(h).fn as PreHookFn)(this.module(path), input));
        const next = given ?? input;
        checkTensors(`pre-hook '${h.name}' on ${path}`, 'input', next, seen, p);
        this.hostRecords.set(h.name, { name: h.name, module: path, kind: 'forward_pre', input: next });
        return uniq.map((a) => next[seen.indexOf(a)].data);
      });
      const swap = new Map(uniq.map((a, i) => [a, fresh[i]]));
      ins = ins.map((a) => swap.get(a)!);
    }
    for (const h of this.on(path, 'forward')) if (!h.opts.writeBack && h.opts.keepIO !== false) ins.forEach((a, i) => this.capture(b, h, 'input', i, a));
    if (b.grad && this.observesBackward(path)) {
      // PyTorch's full backward hooks see the gradients of the module's own uses of its inputs: the module reads
      // fresh copies, so their gradients are exactly that (self-attention's query, key and value apart).
      ins = ins.map((a) => {
        if (a.ids) return a;
        const alias = b.act(a.shape, `${path} input`);
        b.copy('input for backward hooks', a, 0, alias, 0, a.size);
        return alias;
      });
    }
    return ins;
  }

  async moduleGrads(
    b: PlanBuilder,
    call: ModuleCall,
    gradIn: readonly (Act | undefined)[],
    gradOut: readonly (Act | undefined)[],
    kept: ReadonlyMap<string, Act>,
  ): Promise<readonly (Act | undefined)[] | undefined> {
    const path = call.path;
    const weights = kept.get('weights');
    let ins = [...gradIn];
    let changed = false;
    for (const h of this.on(path, 'backward')) {
      if (!h.fn) {
        const grab = (field: Field, i: number, g: Act | undefined, like: Act) => {
          if (g) this.capture(b, h, field, i, g);
          else this.specs.push({ hook: h.name, field, index: i, dims: like.shape });
        };
        ins.forEach((g, i) => grab('input', i, g, call.inputs[i]));
        gradOut.forEach((g, i) => grab('output', i, g, call.outputs[i]));
        if (weights) this.capture(b, h, 'weightsGrad', 0, weights);
        continue;
      }
      // fn sees the gradients on the CPU and may replace the input gradients: a round trip inside the backward.
      const reads = [...new Set([...ins, ...gradOut, weights].filter((a): a is Act => !!a))];
      const float = call.inputs.map((a) => !a.ids);
      const fresh = call.inputs.map((a, i) => (float[i] ? b.act(a.shape, `${path} grad input (hook ${h.name})`) : undefined));
      const seen = [...ins];
      b.host(`backward hook ${h.name}`, reads, fresh.filter((a): a is Act => !!a), async (data, p) => {
        const view = (g: Act | undefined, like: Act): CapturedTensor => ({ shape: [...like.shape], data: g ? data[reads.indexOf(g)] : new Float32Array(like.size) });
        const gradInput = call.inputs.map((a, i) => view(seen[i], a));
        const gradOutput = call.outputs.map((a, i) => view(gradOut[i], a));
        const wg = weights && view(weights, weights);
        const r = await this.callHook(() => (this.hookNow(h).fn as BackwardHookFn)(this.module(path), gradInput, gradOutput, wg));
        const next = r ?? gradInput;
        checkTensors(`backward hook '${h.name}' on ${path}`, 'grad_input', next, call.inputs, p);
        this.hostRecords.set(h.name, { name: h.name, module: path, kind: 'backward', input: next, output: gradOutput, ...(wg ? { weightsGrad: wg } : {}) });
        return next.filter((_, i) => float[i]).map((t) => t.data);
      });
      ins = fresh;
      changed = true;
    }
    return changed ? ins : undefined;
  }

  /** The merged heads [.., H*D] of the attention module at `path` (before its output projection): row patches, captures. */
  heads(b: PlanBuilder, path: string, o: Act): Act {
    const out = this.patchRows(b, path, o, true);
    for (const h of this.on(path, 'forward', true)) this.capture(b, h, 'output', 0, out);
    return out;
  }

  /** `x` after the module's patch_rows interventions (at its output or its heads), each one step. */
  private patchRows(b: PlanBuilder, path: string, x: Act, heads: boolean): Act {
    let result = x;
    for (const h of this.on(path, 'patch_rows', heads)) {
      const { segment: C, S, M, index } = h.rows!;
      if (S * C !== result.size) throw new Error(`patchRows '${h.name}': ${S} segments of ${C} do not cover ${path}'s ${heads ? 'merged heads' : 'output'} [${result.shape.join(', ')}] for these inputs`);
      const from = result;
      const y = b.act(dimsOf(from), `${path} ${heads ? 'heads' : 'output'} (patch ${h.name})`);
      const bufs = { index: { buffer: index }, values: { buffer: h.buffer! } };
      // Straight through: the gradient at the values patched in reaches the module's own output unchanged.
      b.step(`patch rows ${h.name}`, PATCH_ROWS, { x: from, y }, (r) => patchRows(b.ctx, { ...r, ...bufs }, { S, C, M }, `${path} patch rows`), (g) => {
        const d = g.grad(y);
        if (d) g.give(from, d);
      });
      result = y;
    }
    return result;
  }

  async exit(b: PlanBuilder, path: string, ins: readonly Act[], outs: readonly Act[]): Promise<readonly Act[]> {
    let result = [...outs];
    if (this.on(path, 'patch_rows').length) result = [this.patchRows(b, path, result[0], false), ...result.slice(1)];
    for (const h of this.on(path, 'patch')) {
      const first = result[0];
      if (h.shape!.length !== first.shape.length || h.shape!.some((d, i) => d !== first.shape[i])) {
        throw new Error(`patchOutput '${h.name}': value [${h.shape!.join(', ')}] does not match ${path}'s output [${first.shape.join(', ')}] for these inputs`);
      }
      const patched = b.act(first.shape, `${path} output (patch ${h.name})`);
      b.fill(`patch ${h.name}`, patched, h.buffer!);
      result = [patched, ...result.slice(1)];
    }
    for (const h of this.on(path, 'forward')) {
      if (h.opts.writeBack) {
        result = this.writeBack(b, h, path, ins, result);
        continue;
      }
      const summary = h.opts.summary;
      for (const [i, a] of result.entries()) {
        if (i === 1 && h.opts.stream) this.streamWeights(b, h, path, a);
        else if (i === 1 && summary) {
          const rec = new SummaryRecorder(b, `hook '${h.name}'`, path, dimsOf(a) as [Dim, Dim, number, Dim], summary, this.rolloutChain(h));
          rec.chunk(a, 0);
          rec.finish();
          this.captureSummary(b, h, rec);
        } else if (h.opts.keepIO !== false) this.capture(b, h, 'output', i, i === 1 ? await this.cutWeights(b, h, a) : a);
      }
      const chunked = this.chunked.get(h.name);
      if (chunked) this.captureSummary(b, h, chunked);
    }
    return result;
  }

  /** The rollout chain a hook's summary adds to: the one it names, else its own (a pattern's hooks share their name). */
  private rolloutChain(h: Hook): RolloutChain {
    const r = h.opts.summary?.rollout;
    const key = typeof r === 'string' ? r : h.name.replace(/\[.*\]$/, '');
    return this.rollouts.get(key) ?? this.rollouts.set(key, {}).get(key)!;
  }

  private captureSummary(b: PlanBuilder, h: Hook, rec: SummaryRecorder): void {
    for (const [name, a] of rec.outputs) this.capture(b, h, 'summary', 0, a, name);
  }

  /**
   * Every forward hook on the attention module asks only for summaries or a stream, and its map passes the summary
   * chunk, a stream's chunkBytes or the hooks' chunkRows: the module's attention is computed by chunks of query rows (a
   * multiple of 64, at least 64), each chunk's probabilities summarised or streamed out before the next, so the
   * [B, H, L, S] map never exists.
   */
  probsChunks(b: PlanBuilder, path: string, shape: readonly [number, number, number, number]): ProbsChunks | undefined {
    const hooks = this.on(path, 'forward');
    if (!hooks.length || hooks.some((h) => !h.opts.summary && !h.opts.stream)) return undefined;
    const [B, H, L, S] = shape;
    const rowBytes = B * H * S * 4;
    const want = Math.min(Math.floor(SUMMARY_CHUNK_BYTES / rowBytes), ...hooks.map((h) => h.opts.summary?.chunkRows ?? Math.floor(streamChunkBytes(h) / rowBytes)));
    const rows = Math.max(64, Math.floor(want / 64) * 64);
    if (rows >= L) return undefined;
    const summarised = hooks.filter((h) => h.opts.summary);
    const streamed = hooks.filter((h) => h.opts.stream);
    const recs = summarised.map((h) => new SummaryRecorder(b, `hook '${h.name}'`, path, shape, h.opts.summary!, this.rolloutChain(h)));
    summarised.forEach((h, i) => this.chunked.set(h.name, recs[i]));
    return {
      rows,
      chunk: (probs, l0) => {
        recs.forEach((r) => r.chunk(probs, l0));
        streamed.forEach((h) => this.streamWeights(b, h, path, probs, l0));
      },
      finish: () => recs.forEach((r) => r.finish()),
    };
  }

  /** attn_weights [B, H, L, S] cut to the hook's heads / queries / head average on the GPU, before the copy. */
  private async cutWeights(b: PlanBuilder, h: Hook, probs: Act): Promise<Act> {
    const sel = weightSelection(h.opts);
    if (!sel.heads && !sel.queries && !sel.average) return probs;
    // S may follow the plan's params (a decode step's keys so far): the selection's last dim is the same S.
    const [B, H, L, S] = dimsOf(probs);
    const dims = (p: Params) => ({ B: dimAt(B, p), H: dimAt(H, p), L: dimAt(L, p), S: dimAt(S, p) });
    const s = attnSelection(`hook '${h.name}'`, dims({}), sel);
    const out = b.act([...s.shape.slice(0, -1), S], `${h.path} weights (selected)`);
    b.step('select weights', ATTN_SELECT, { probs, out }, (r, p, ctx) => attnSelect(ctx, r, dims(p), sel, `${h.path} select weights`));
    return out;
  }

  /**
   * attn_weights [B, H, L, S] (or the query rows [l0, l0 + L) of the map, when attention runs by chunks) read back by
   * chunks of query rows, each handed to the hook's onChunk as it arrives.
   */
  private streamWeights(b: PlanBuilder, h: Hook, path: string, probs: Act, l0 = 0): void {
    const [B, H, L, S] = probs.shape;
    if (probs.dims) throw new Error(`hook '${h.name}': stream needs weights of a fixed shape; ${path}'s follow the plan's params (a decode step)`);
    const rows = Math.max(1, Math.floor(streamChunkBytes(h) / (B * H * S * 4)));
    b.stream(`stream ${h.name}`, probs, { outer: B * H, len: L, inner: S }, rows, async (from, to, data) => {
      const weights = { shape: [B, H, to - from, S], data };
      await this.callHook(() => this.hookNow(h).opts.stream!.onChunk({ hook: h.name, module: path, queries: [l0 + from, l0 + to], weights }));
    });
  }

  /** A forward hook whose fn replaces the module's outputs in the computation. */
  private writeBack(b: PlanBuilder, h: Hook, path: string, ins: readonly Act[], outs: readonly Act[]): Act[] {
    const reads = [...new Set([...ins, ...outs])];
    const fresh = outs.map((a) => b.act(dimsOf(a), `${path} output (hook ${h.name})`));
    b.host(`forward hook ${h.name}`, reads, fresh, async (data, p) => {
      const view = (a: Act): CapturedTensor => ({ shape: shapeAt(a, p), data: data[reads.indexOf(a)] });
      const input = ins.map(view);
      const output = outs.map(view);
      const r = await this.callHook(() => (this.hookNow(h).fn as ForwardHookFn)(this.module(path), input, output));
      const next = r?.output ?? output;
      checkTensors(`forward hook '${h.name}' on ${path}`, 'output', next, outs, p);
      this.hostRecords.set(h.name, { name: h.name, module: path, kind: 'forward', input: r?.input ?? input, output: next });
      return next.map((t) => t.data);
    });
    return fresh;
  }

  /**
   * Builds the records of the forward (and forward-pre) hooks, or of the backward hooks, from one run of that
   * phase's captures, calling the fns that edit stored copies.
   */
  async records(captures: ReadonlyMap<string, Float32Array>, phase: 'forward' | 'backward' = 'forward', p: Params = {}): Promise<Map<string, HookRecord>> {
    const out = new Map<string, HookRecord>();
    // A copy shared by several hooks (or fields) is handed out once as is, then as copies: records never alias.
    const handed = new Set<string>();
    const data = (key: string) => {
      const d = captures.get(key)!;
      if (!handed.has(key)) {
        handed.add(key);
        return d;
      }
      return d.slice();
    };
    for (const h0 of this.hooks) {
      if ((h0.kind === 'backward') !== (phase === 'backward') || (h0.kind !== 'forward' && h0.kind !== 'forward_pre' && h0.kind !== 'backward')) continue;
      const host = this.hostRecords.get(h0.name);
      if (host) {
        out.set(h0.name, host);
        continue;
      }
      const h = this.hookNow(h0);
      const field = (f: Field) =>
        this.specs
          .filter((s) => s.hook === h.name && s.field === f)
          .map((s) => {
            const shape = s.dims.map((d) => dimAt(d, p));
            return { shape, data: s.key === undefined ? new Float32Array(shape.reduce((x, y) => x * y, 1)) : data(s.key) };
          });
      let record: HookRecord = { name: h.name, module: h.path, kind: h0.kind, input: field('input') };
      if (h.kind === 'backward') {
        record.output = field('output');
        const [weightsGrad] = field('weightsGrad');
        if (weightsGrad) record.weightsGrad = weightsGrad;
      }
      if (h.kind === 'forward') {
        const output = field('output');
        record.output = output;
        if (h.opts.summary) {
          const names = this.specs.filter((s) => s.hook === h.name && s.field === 'summary').map((s) => s.name!);
          const got = field('summary');
          record.summary = Object.fromEntries(names.map((n, i) => [n, got[i]]));
        }
        if (h.fn) {
          const input = record.input;
          const r = await this.callHook(() => (h.fn as ForwardHookFn)(this.module(h.path), input, output));
          if (r) record = { ...record, input: r.input ?? record.input, output: r.output ?? record.output };
        }
      }
      out.set(h.name, record);
    }
    this.hostRecords.clear();
    return out;
  }
}

/** Bytes per streamed chunk (StreamOptions.chunkBytes); Infinity for a hook that does not stream. */
function streamChunkBytes(h: Hook): number {
  return h.opts.stream ? (h.opts.stream.chunkBytes ?? 16 << 20) : Infinity;
}

/** A hook's returned tensors must match what they replace (at the run's shapes): count, shape and length. */
function checkTensors(who: string, field: string, got: readonly CapturedTensor[], want: readonly Act[], p: Params): void {
  if (!Array.isArray(got) || got.length !== want.length) throw new Error(`${who} returned ${Array.isArray(got) ? got.length : 'no array of'} ${field} tensors, expected ${want.length}`);
  got.forEach((t, i) => {
    const [shape, size] = [shapeAt(want[i], p), sizeAt(want[i], p)];
    const same = t?.shape?.length === shape.length && t.shape.every((d: number, k: number) => d === shape[k]);
    if (!same || !(t.data instanceof Float32Array) || t.data.length !== size) {
      throw new Error(`${who}: ${field}[${i}] must keep shape [${shape.join(', ')}] as a Float32Array of ${size} values`);
    }
  });
}
