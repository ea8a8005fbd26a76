// Parity with PyTorch: every fixture made by tools/make_fixtures.py (torch 1.13) runs through Model.forward
// and must match PyTorch's output within 1e-4 (max abs).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import { INPUT_NAMES, type ModelInputs } from '../src/model/inputs.ts';
import { Model } from '../src/model/model.ts';
import { readSafetensors } from '../src/model/safetensors.ts';

interface FixtureInfo {
  name: string;
  kind: string;
  description: string;
}

const dir = new URL('./fixtures/', import.meta.url);
const index: FixtureInfo[] = JSON.parse(readFileSync(new URL('index.json', dir), 'utf8'));

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createNodeContext({ who: 'parity tests' });
});
afterAll(() => ctx?.dispose());

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('parity with PyTorch fixtures', () => {
  for (const fx of index) {
    it(`${fx.name}: ${fx.description}`, async () => {
      const model = Model.load(ctx, readFileSync(new URL(`${fx.name}.model.safetensors`, dir)), `${fx.name}.model.safetensors`);
      try {
        const io = readSafetensors(readFileSync(new URL(`${fx.name}.io.safetensors`, dir)), `${fx.name}.io.safetensors`);
        const inputs: ModelInputs = {};
        for (const n of INPUT_NAMES) {
          const t = io.tensors.get(n);
          if (t) inputs[n] = t;
        }
        const want = io.tensors.get('output')!;
        const got = await model.forward(inputs);
        expect(got.shape).toEqual(want.shape);
        const err = maxAbsDiff(got.output, want.data as Float32Array);
        expect(err, `max |attnscope - torch| = ${err}`).toBeLessThanOrEqual(1e-4);
        // A second forward reuses the cached plan and gives identical numbers.
        const again = await model.forward(inputs);
        expect(maxAbsDiff(again.output, got.output)).toBe(0);
      } finally {
        model.dispose();
      }
    });
  }
});
