// The demo's background relevance rows (demo/relevance.ts RelevanceJob) on a stand-in model whose row i is [i, 10 i]:
// the first AUTO_ROWS unasked, Cancel stops them for good, a row asked for afterwards is computed alone, Continue
// resumes, a suspend makes the next row run the analysis's forward again, nothing runs while the page is busy.
import { describe, expect, it } from 'vitest';
import { AUTO_ROWS, RelevanceJob } from '../demo/relevance.ts';
import type { ForwardResult, Model } from '../src/index.ts';

const T = AUTO_ROWS + 8;
const S = 2;

/** A seq2seq-like stand-in: one cross-attention module, T output positions, rows [i, 10 i]; each row waits `gate`. */
function standIn() {
  const calls = { rows: [] as number[], forwards: 0 };
  let release: (() => void) | undefined;
  let hold = false;
  const fwd: ForwardResult = { output: new Float32Array(T * 3).map((_, k) => k % 3), shape: [1, T, 3] };
  const model = {
    batchFirst: true,
    attentionModules: () => [{ path: 'transformer.decoder.layers.0.multihead_attn', role: 'cross', layer: 0, heads: 1, causal: false }],
    async relevanceRow(_t: unknown, _batch: number, i: number) {
      if (hold) await new Promise<void>((r) => (release = r));
      calls.rows.push(i);
      return { value: 0, map: 'cross', rows: T, row: Float32Array.of(i, 10 * i) };
    },
    async forward() {
      calls.forwards++;
      return fwd;
    },
  } as unknown as Model;
  return {
    model,
    fwd,
    calls,
    /** Rows wait until `step()` from now on. */
    holdRows: () => (hold = true),
    step: () => release?.(),
    flow: () => (hold = false, release?.()),
  };
}

/** A job and a way to wait until its state is one of `states`. */
function makeJob(canRun = () => true) {
  const s = standIn();
  const waiters: (() => void)[] = [];
  const job = new RelevanceJob(s.model, s.fwd, {}, true, { map: 'cross', rows: T, cols: S }, [], () => waiters.splice(0).forEach((w) => w()), canRun);
  /** Waits for `ok` after each change; fails after 5 s with the job's state. */
  const until = async (ok: () => boolean) => {
    const t0 = Date.now();
    while (!ok()) {
      if (Date.now() - t0 > 5000) throw new Error(`the job stayed ${job.state} with rows ${computed(job).join(',')}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 100);
      });
    }
  };
  return { job, ...s, until };
}

const computed = (job: RelevanceJob) => Array.from(job.relevance.computed).flatMap((v, i) => (v ? [i] : []));

describe('demo relevance job', () => {
  it('computes the first AUTO_ROWS rows unasked, each in its row of the matrix; the rest on demand', async () => {
    const { job, calls, until } = makeJob();
    expect(job.relevance.summary).toBe(`0/${T} rows, computing after the maps`);
    job.resume();
    await until(() => job.state === 'partial');
    expect(calls.rows).toEqual(Array.from({ length: AUTO_ROWS }, (_, i) => i));
    expect(Array.from(job.relevance.matrix.data.subarray(5 * S, 6 * S))).toEqual([5, 50]);
    expect(Array.from(job.relevance.matrix.data.subarray(AUTO_ROWS * S))).toEqual(new Array((T - AUTO_ROWS) * S).fill(0));
    expect(job.relevance.summary).toMatch(new RegExp(`^${AUTO_ROWS}/${T} rows \\(${AUTO_ROWS} backwards in \\d+ ms\\); the others on demand$`));
    job.request(T - 1);
    await until(() => job.state === 'partial' && job.done === AUTO_ROWS + 1);
    expect(calls.rows.at(-1)).toBe(T - 1);
    job.all();
    await until(() => job.state === 'done');
    expect(job.relevance.summary).toMatch(new RegExp(`^${T} backwards in \\d+ ms$`));
    expect(job.relevance.targets.every((t) => t !== undefined)).toBe(true);
  });

  it('Cancel stops after the row in flight; a row asked for then runs alone; Continue resumes the automatic rows', async () => {
    const { job, calls, holdRows, step, flow, until } = makeJob();
    holdRows();
    job.resume();
    step(); // row 0
    await until(() => job.done === 1);
    const stopping = job.cancel(); // row 1 is in flight
    step();
    await stopping;
    expect(job.state).toBe('stopped');
    expect(computed(job)).toEqual([0, 1]);
    expect(job.relevance.summary).toBe(`stopped at 2/${T} rows`);
    flow();
    job.request(20);
    await until(() => job.state === 'stopped' && job.done === 3);
    expect(computed(job)).toEqual([0, 1, 20]);
    job.continue();
    await until(() => job.state === 'partial');
    expect(computed(job)).toEqual(Array.from({ length: AUTO_ROWS }, (_, i) => i));
    expect(new Set(calls.rows).size).toBe(calls.rows.length); // no row twice
  });

  it('a row asked for while rows run goes next; a suspend re-runs the forward before the next row', async () => {
    const { job, calls, holdRows, step, flow, until } = makeJob();
    holdRows();
    job.resume();
    step(); // row 0
    await until(() => job.done === 1);
    job.request(35);
    step(); // row 1 was in flight
    await until(() => job.done === 2);
    step();
    await until(() => job.done === 3);
    expect(calls.rows).toEqual([0, 1, 35]);
    const pausing = job.suspend();
    step();
    await pausing;
    expect(job.state).toBe('suspended');
    expect(calls.forwards).toBe(0);
    flow();
    job.resume();
    await until(() => job.state === 'partial' && job.done === AUTO_ROWS + 1);
    expect(calls.forwards).toBe(1);
  });

  it('rows wait while the page is busy, and a disposed job never calls back', async () => {
    let busy = true;
    const { job, calls, until } = makeJob(() => !busy);
    job.request(3);
    expect(job.state).toBe('waiting'); // not started yet: no row runs while the page is busy
    expect(calls.rows).toEqual([]);
    busy = false;
    job.resume();
    await until(() => job.done >= 2);
    await job.dispose();
    const n = calls.rows.length;
    await new Promise((r) => setTimeout(r, 20));
    expect(calls.rows.length).toBe(n);
    expect(calls.rows[0]).toBe(3);
  });
});

describe('RelevanceJob and a view that asks for its row on every change', () => {
  it('a row asked for while the page is busy is noted once: a listener that asks again on each change does not loop', () => {
    // The text view coloured by relevance asks for its query's row whenever it redraws, and it redraws on onChange:
    // while the page is busy each ask used to report a change, which redrew, which asked again, never yielding.
    const s = standIn();
    let changes = 0;
    let job: RelevanceJob | undefined = undefined;
    job = new RelevanceJob(s.model, s.fwd, {}, true, { map: 'cross', rows: T, cols: S }, [], () => {
      if (++changes > 50) throw new Error('onChange keeps firing: the ask / redraw cycle loops');
      job?.request(T - 1);
    }, () => false);
    job.request(T - 1);
    expect(changes).toBeLessThanOrEqual(2);
    expect(job.state).toBe('waiting');
    expect(s.calls.rows).toEqual([]);
  });
});
