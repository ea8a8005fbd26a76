import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';

const DIRECTIVE = /#(if|elif)\s+([A-Za-z_]\w*)/g;

/**
 * Runs a `.wgsl` file through wgsl-preprocessor. The files write `#if NAME` / `#elif NAME`; the library
 * wants template substitutions there, so each NAME becomes one, valued from `defines`.
 * Every define the source names must be given and every given define must be used: a typo fails loudly.
 */
export function preprocess(kernel: string, source: string, defines: Readonly<Record<string, boolean>>): string {
  const strings: string[] = [];
  const values: boolean[] = [];
  const used = new Set<string>();
  let last = 0;
  for (const m of source.matchAll(DIRECTIVE)) {
    const name = m[2];
    if (!(name in defines)) throw new Error(`kernel ${kernel}: define ${name} is used in the shader but not given`);
    used.add(name);
    strings.push(source.slice(last, m.index) + `#${m[1]} `);
    values.push(defines[name]);
    last = m.index + m[0].length;
  }
  strings.push(source.slice(last));
  for (const name of Object.keys(defines)) {
    if (!used.has(name)) throw new Error(`kernel ${kernel}: define ${name} is given but the shader never tests it`);
  }
  return wgsl(Object.assign(strings, { raw: strings }) as TemplateStringsArray, ...values);
}
