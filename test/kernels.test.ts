// The GPU kernel suite in Node (Dawn: a real GPU, or SwiftShader), each case under both kernel sets
// (test/kernels/index.ts). The same cases run in the browser through test/browser/ and e2e/kernels.spec.ts.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import { ROW_WIDTHS } from './harness.ts';
import { allCases, rowWidthReport } from './kernels/index.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createNodeContext({ who: 'kernel tests' });
});
afterAll(() => {
  ctx?.dispose();
  const r = rowWidthReport();
  console.log(
    `kernel cases: ${r.bothSets} ran under both kernel sets, ${r.oneSet} once (nothing they dispatch consults the choice)\n` +
      `row kernels, dispatches per width and kernel set (threads per row):\n${r.lines.join('\n')}`,
  );
});

for (const c of allCases) it(c.name, () => c.run(ctx));

it(`every row kernel ran at widths ${ROW_WIDTHS.join(', ')} under both kernel sets`, () => {
  const r = rowWidthReport();
  expect(r.lines.length, 'no row kernel ran under both sets').toBeGreaterThan(0);
  expect(r.missing).toEqual([]);
});
