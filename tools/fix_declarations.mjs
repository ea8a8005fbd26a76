// After `tsc -p tsconfig.build.json` (npm run build): makes dist/types importable from a consumer's stock tsconfig and
// the CLI runnable. The sources import each other as './x.ts' (Vite and allowImportingTsExtensions), which tsc keeps
// in declaration files; a consumer's resolver wants './x.js' there. The public types use WebGPU's GPU* globals,
// which the entry points pull in with a reference to @webgpu/types (a dependency). dist/cli.js gets its run bit
// (Vite writes files without it), so a rebuild or `npm pack` never leaves `npx attnscope` with "Permission denied".
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';

const types = 'dist/types';
const ENTRIES = new Set(['index.d.ts', 'node.d.ts']);
const RELATIVE_TS = /((?:from|import)\s*\(?\s*)(['"])(\.{1,2}\/[^'"]*?)\.ts\2/g;

let files = 0;
for (const rel of readdirSync(types, { recursive: true, encoding: 'utf8' })) {
  if (!rel.endsWith('.d.ts')) continue;
  const path = join(types, rel);
  let text = readFileSync(path, 'utf8').replace(RELATIVE_TS, '$1$2$3.js$2');
  if (/\.ts['"]/.test(text.replace(/\/\/.*|\/\*[\s\S]*?\*\//g, ''))) throw new Error(`${path}: an import of a .ts file is left`);
  if (ENTRIES.has(rel)) text = `/// <reference types="@webgpu/types" />\n${text}`;
  writeFileSync(path, text);
  files++;
}
if (!files) throw new Error(`${types}: no declaration files (did tsc -p tsconfig.build.json run?)`);
chmodSync('dist/cli.js', 0o755);
process.stdout.write(`fix_declarations: ${files} declaration files in ${types}; dist/cli.js executable\n`);
