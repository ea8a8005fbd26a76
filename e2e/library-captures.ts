// `vite-node e2e/library-captures.ts CHECKPOINT_DIR IN OUT`: the library in Node (Dawn; SwiftShader without a GPU)
// runs a checkpoint on the inputs in IN and writes every attention module's weights to OUT as '<path>.weights'.
// The e2e suite's reference for what the page shows (Playwright's own Node cannot import the .wgsl sources).
import { readFileSync, writeFileSync } from 'node:fs';
import { Model, readSafetensors, writeSafetensors } from '../src/index.ts';
import { createNodeContext, directoryFiles } from '../src/node.ts';

const [dir, inPath, outPath] = process.argv.slice(-3);
const ctx = await createNodeContext({ who: 'e2e reference' });
try {
  const model = await Model.fromCheckpoint(ctx, directoryFiles(dir));
  const paths = model.attentionModules().map((m) => m.path);
  for (const p of paths) model.setForwardHook(p, p);
  const inputs = readSafetensors(readFileSync(inPath), inPath).tensors;
  await model.forward(Object.fromEntries([...inputs].map(([name, t]) => [name, { dtype: t.dtype, shape: t.shape, data: t.data }])));
  writeFileSync(outPath, writeSafetensors(paths.map((p) => ({ name: `${p}.weights`, dtype: 'F32' as const, ...model.hooks[p].output![1] }))));
} finally {
  ctx.dispose();
}
