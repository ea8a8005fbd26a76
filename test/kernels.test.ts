// The GPU kernel suite in Node (Dawn: a real GPU, or SwiftShader). The same cases run in the browser
// through test/browser/ and e2e/kernels.spec.ts.
import { afterAll, beforeAll, it } from 'vitest';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import { allCases } from './kernels/index.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createNodeContext({ who: 'kernel tests' });
});
afterAll(() => ctx?.dispose());

for (const c of allCases) it(c.name, () => c.run(ctx));
