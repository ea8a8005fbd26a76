import type { GpuCase } from '../harness.ts';

// Every `*.cases.ts` here contributes its `cases`; Node and the browser page both run this list.
const modules = import.meta.glob<{ cases: GpuCase[] }>('./*.cases.ts', { eager: true });

export const allCases: GpuCase[] = Object.keys(modules)
  .sort()
  .flatMap((k) => modules[k].cases);
