// The demo's confidence numbers (demo/confidence.ts) against hand-worked softmax, top-k and entropy values.
import { describe, expect, it } from 'vitest';
import { confidence, confidenceHint, positionConfidence } from '../demo/confidence.ts';

const label = (id: number) => `t${id}`;
const where = { unit: 'output token', where: (p: number) => `step ${p}` };

describe('demo confidence', () => {
  it('softmax top-k and entropy of logits ln(1..4) + c: p = 0.1, 0.2, 0.3, 0.4', () => {
    const logits = [7, 7 + Math.log(2), 7 + Math.log(3), 7 + Math.log(4)];
    const c = positionConfidence(logits, 0, 4, 2, label);
    expect(c.top.map((g) => g.id)).toEqual([3, 2]);
    expect(c.top[0].prob).toBeCloseTo(0.4, 12);
    expect(c.top[1].prob).toBeCloseTo(0.3, 12);
    expect(c.top[0].token).toBe('t3');
    // -(0.1 ln 0.1 + 0.2 ln 0.2 + 0.3 ln 0.3 + 0.4 ln 0.4)
    expect(c.entropy).toBeCloseTo(1.2798542258336676, 12);
  });

  it('a one-hot distribution has entropy 0; a uniform one ln V; ties keep the lower id first', () => {
    expect(positionConfidence([0, 1000, 0], 0, 3, 1, label).entropy).toBeCloseTo(0, 12);
    const u = positionConfidence([2, 2, 2, 2, 2], 0, 5, 3, label);
    expect(u.entropy).toBeCloseTo(Math.log(5), 12);
    expect(u.top.map((g) => g.id)).toEqual([0, 1, 2]);
  });

  it('rows of [1, T, V] and [T, 1, V] logits are positions; bad shapes and non-finite rows are named', () => {
    const out = Float32Array.from([0, 5, 0, 3, 0, 0]); // T = 2, V = 3
    for (const [shape, bf] of [[[1, 2, 3], true], [[2, 1, 3], false]] as const) {
      const c = confidence(out, shape, bf, label, [0, 1, 7]);
      expect(c.positions.map((p) => p.top[0].id)).toEqual([1, 0]);
      expect(c.outputs).toEqual([0, 1]);
      expect(c.vocab).toBe(3);
    }
    expect(() => confidence(out, [2, 1, 3], true, label, [])).toThrow('not one sequence');
    expect(() => positionConfidence([-Infinity, -Infinity], 0, 2, 1, label)).toThrow('no finite maximum');
    expect(() => positionConfidence([1, 2], 1, 2, 1, label)).toThrow('outside 2 values');
  });

  it('the hint: confident at >= 90% everywhere, guessing near uniform, unsure otherwise, naming the least sure step', () => {
    const conf = (rows: number[][]) => confidence(Float32Array.from(rows.flat()), [1, rows.length, rows[0].length], true, label, rows.map((_, i) => i));
    const sure = confidenceHint(conf([[0, 10, 0], [9, 0, 0]]), where)!;
    expect(sure.level).toBe('confident');
    expect(sure.text).toContain('lowest 99.98%');
    const flat = confidenceHint(conf([[0, 0.1, 0], [0, 0, 0]]), where)!;
    expect(flat.level).toBe('guessing');
    const mid = confidenceHint(conf([[0, 10, 0], [Math.log(3), Math.log(2), 0]]), where)!;
    expect(mid.level).toBe('unsure');
    expect(mid.text).toContain('step 1: top token "t0" 50%, next "t1" 33%');
    expect(confidenceHint(confidence(Float32Array.from([1, 2]), [1, 1, 2], true, label, []), where)).toBeUndefined();
  });
});
