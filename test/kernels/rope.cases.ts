import { rope, ropeInvFreq, ropeRef, type RopeShape, ropeTable } from '../../src/kernels/rope.ts';
import { type GpuCase, assertClose, rng, uniform, withScope } from '../harness.ts';

/** Rotation (and the inverse rotation) against ropeRef; rotating back recovers x. */
function ropeCase(name: string, shape: RopeShape, theta: number, positions: (rows: number, rand: () => number) => Uint32Array, seed: number): GpuCase {
  const label = `rope ${name}`;
  return {
    name: label,
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const rand = rng(seed);
        const { rows, heads, D, P } = shape;
        const x = uniform(rand, rows * heads * D, -2, 2);
        const pos = positions(rows, rand);
        const table = ropeTable(ropeInvFreq(theta, D), P);
        const bufs = { x: s.upload(x, 'x'), pos: s.upload(new Float32Array(pos.buffer), 'pos'), table: s.upload(table, 'table') };
        const [y, back] = [s.empty(x.length, 'y'), s.empty(x.length, 'back')];
        await s.run(await rope(ctx, { ...bufs, y }, shape, label));
        await s.run(await rope(ctx, { ...bufs, x: y, y: back }, { ...shape, inverse: true }, `${label} inverse`));
        const got = await s.read(y);
        assertClose(label, got, ropeRef(x, pos, table, shape), { atol: 2e-6, rtol: 1e-6, shape: [rows, heads, D] });
        assertClose(`${label}: inverse`, await s.read(back), ropeRef(got, pos, table, { ...shape, inverse: true }), { atol: 2e-6, rtol: 1e-6, shape: [rows, heads, D] });
        assertClose(`${label}: rotated back`, await s.read(back), x, { atol: 1e-5, shape: [rows, heads, D] });
      }),
  };
}

const arange = (offset: number) => (rows: number) => Uint32Array.from({ length: rows }, (_, i) => offset + i);

export const cases: GpuCase[] = [
  ropeCase('1 row, 1 head, D=2, position 0 (identity)', { rows: 1, heads: 1, D: 2, P: 4 }, 10000, arange(0), 1900),
  ropeCase('7 rows, 3 heads, D=8, theta 10000', { rows: 7, heads: 3, D: 8, P: 32 }, 10000, arange(0), 1901),
  ropeCase('a decode step: 1 row at position 300, 9 heads, D=64', { rows: 1, heads: 9, D: 64, P: 2048 }, 10000, arange(300), 1902),
  ropeCase('random positions (left padding), 2 heads, D=10, theta 1e6', { rows: 13, heads: 2, D: 10, P: 64 }, 1e6, (rows, r) => Uint32Array.from({ length: rows }, () => Math.floor(r() * 64)), 1903),
  {
    name: 'rope: the table is HF default rotary frequencies (theta 10000, D 8) and odd D is refused',
    run: (ctx) =>
      withScope(ctx, async (s) => {
        // torch: 1 / 10000 ** (arange(0, 8, 2).float() / 8) = [1, 0.1, 0.01, 0.001]
        const f = ropeInvFreq(10000, 8);
        assertClose('inv_freq', f, [1, 0.1, 0.01, 0.001], { atol: 0, rtol: 1e-6, shape: [4] });
        const t = ropeTable(f, 3);
        assertClose('table position 2', t.subarray(16, 24), [Math.cos(2), Math.sin(2), Math.cos(0.2), Math.sin(0.2), Math.cos(0.02), Math.sin(0.02), Math.cos(0.002), Math.sin(0.002)], { atol: 1e-7, shape: [8] });
        const b = s.empty(64);
        const err = await rope(ctx, { x: b, pos: b, table: b, y: s.empty(64) }, { rows: 1, heads: 1, D: 7, P: 1 }, 'r').then(() => 'no error', String);
        if (!/r: head dim D = 7 is odd/.test(err)) throw new Error(`rope odd D: got '${err}'`);
      }),
  },
];
