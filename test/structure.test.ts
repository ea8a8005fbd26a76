// The source tree's shape: no file in src/ imports one that imports it back, through any chain (type imports
// included), so the layers of docs/architecture.md stay layers.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { expect, it } from 'vitest';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Every import cycle among the files, each as the chain of relative paths that closes it. */
function importCycles(files: readonly string[]): string[][] {
  const deps = new Map(files.map((f) => [f, [...readFileSync(f, 'utf8').matchAll(/^(?:import|export)[^'"]*?from\s+['"](\.[^'"]+\.ts)['"]/gm)].map((m) => resolve(dirname(f), m[1]))]));
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    stack.push(f);
    for (const d of deps.get(f) ?? []) {
      if (state.get(d) === 'open') cycles.push([...stack.slice(stack.indexOf(d)), d].map((p) => relative(root, p)));
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  return cycles;
}

it('no file in src/ imports one that imports it back', () => {
  const files = sources(join(root, 'src'));
  expect(files.length).toBeGreaterThan(50);
  expect(importCycles(files).map((c) => c.join(' -> '))).toEqual([]);
});

it('the cycle finder finds a cycle through three files', () => {
  const dir = join(root, 'test', 'fixtures', 'cycle');
  expect(importCycles(sources(dir)).map((c) => c.map((p) => p.split('/').pop()).join(' -> '))).toEqual(['a.ts -> b.ts -> c.ts -> a.ts']);
});
