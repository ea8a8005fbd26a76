import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import elementwise from '../../shaders/common/elementwise.wgsl?raw';
import grid from '../../shaders/common/grid.wgsl?raw';
import half from '../../shaders/common/half.wgsl?raw';
import lowest from '../../shaders/common/lowest.wgsl?raw';
import matmulB from '../../shaders/common/matmul_b.wgsl?raw';
import matmulBatch from '../../shaders/common/matmul_batch.wgsl?raw';
import reduce from '../../shaders/common/reduce.wgsl?raw';
import rms from '../../shaders/common/rms.wgsl?raw';
import rowStats from '../../shaders/common/row_stats.wgsl?raw';
import rows from '../../shaders/common/rows.wgsl?raw';
import units from '../../shaders/common/units.wgsl?raw';

/** The shared WGSL a kernel may `#include NAME`: shaders/common/NAME.wgsl. */
export const INCLUDES: Readonly<Record<string, string>> = { elementwise, grid, half, lowest, matmul_b: matmulB, matmul_batch: matmulBatch, reduce, rms, row_stats: rowStats, rows, units };

/** A scalar field of a kernel's uniform struct (all 4 bytes: the struct is packed word by word). */
export type WgslScalar = 'u32' | 'i32' | 'f32';

const DIRECTIVE = /#(if|elif)\s+([A-Za-z_]\w*)/g;
const INCLUDE = /^[ \t]*#include[ \t]+(\S+)[ \t]*$/gm;

/**
 * Replaces each `#include NAME` line with INCLUDES[NAME] (its own includes resolved too). A file is pasted once per
 * kernel: a second include of it (say reduce.wgsl from both the kernel and row_stats.wgsl) is dropped. Includes are
 * resolved before `#if`, so they sit at top level, outside conditionals.
 */
export function resolveIncludes(kernel: string, source: string, seen = new Set<string>()): string {
  return source.replace(INCLUDE, (_, name: string) => {
    const text = INCLUDES[name];
    if (text === undefined) throw new Error(`kernel ${kernel}: unknown #include ${name} (known: ${Object.keys(INCLUDES).join(', ')})`);
    if (seen.has(name)) return '';
    seen.add(name);
    return resolveIncludes(kernel, text, seen);
  });
}

/** `struct Params` with the given fields in order: a kernel's uniform layout is written once, in its descriptor. */
export function paramsStruct(fields: Readonly<Record<string, WgslScalar>>): string {
  return `struct Params {\n${Object.entries(fields).map(([k, t]) => `  ${k}: ${t},\n`).join('')}}\n`;
}

/**
 * Runs a `.wgsl` file through wgsl-preprocessor after resolving its includes. The files write `#if NAME` / `#elif NAME`;
 * the library wants template substitutions there, so each NAME becomes one, valued from `defines`.
 * Every define the source names must be given and every given define must be used: a typo fails loudly.
 */
export function preprocess(kernel: string, source: string, defines: Readonly<Record<string, boolean>>): string {
  const full = resolveIncludes(kernel, source);
  const strings: string[] = [];
  const values: boolean[] = [];
  const used = new Set<string>();
  let last = 0;
  for (const m of full.matchAll(DIRECTIVE)) {
    const name = m[2];
    if (!(name in defines)) throw new Error(`kernel ${kernel}: define ${name} is used in the shader but not given`);
    used.add(name);
    strings.push(full.slice(last, m.index) + `#${m[1]} `);
    values.push(defines[name]);
    last = m.index + m[0].length;
  }
  strings.push(full.slice(last));
  for (const name of Object.keys(defines)) {
    if (!used.has(name)) throw new Error(`kernel ${kernel}: define ${name} is given but the shader never tests it`);
  }
  return wgsl(Object.assign(strings, { raw: strings }) as TemplateStringsArray, ...values);
}

/** One @group(0) binding: `var<uniform> NAME: Params`, or `var<storage, KIND> NAME: array<TYPE>`. */
export interface BindingDecl {
  name: string;
  kind: 'read' | 'read_write' | 'uniform';
  type: string;
}

/** The declarations of a kernel's bindings (undefined: compiled out), from its descriptor: the shader declares none. */
export function bindingDecls(bindings: readonly (BindingDecl | undefined)[]): string {
  return bindings
    .map((b, i) => {
      if (!b) return '';
      const v = b.kind === 'uniform' ? `var<uniform> ${b.name}: Params` : `var<storage, ${b.kind}> ${b.name}: array<${b.type}>`;
      return `@group(0) @binding(${i}) ${v};\n`;
    })
    .join('');
}
