import type { Act, Step } from './plan.ts';

function size(bytes: number): string {
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
  return bytes >= 1 << 10 ? `${(bytes / (1 << 10)).toFixed(1)} KiB` : `${bytes} B`;
}

/** What a step binds: a kernel's buffers by name, or a plain step's reads (in) and writes (out). */
function buffers(s: Step): [name: string, access: string, act: Act][] {
  const access = (a: Act) => (s.writes.includes(a) ? (s.reads.includes(a) ? 'read_write' : 'write') : 'read');
  if (s.kind === 'kernel') return Object.entries(s.args).map(([name, a]) => [name, access(a), a]);
  return [...s.reads.map((a): [string, string, Act] => ['in', 'read', a]), ...s.writes.map((a): [string, string, Act] => ['out', 'write', a])];
}

/**
 * A plan's steps as text, one block per step: its index, kernel (or kind: capture, copy, fill, host), label and the
 * bytes it binds, then one line per buffer: name, access, activation, shape, where it lives (`where`) and bytes.
 */
export function describeSteps(steps: readonly Step[], where: (a: Act) => string): string {
  const lines: string[] = [];
  steps.forEach((s, i) => {
    const bufs = buffers(s);
    const bytes = [...new Set(bufs.map(([, , a]) => a))].reduce((n, a) => n + a.size * 4, 0);
    lines.push(`${String(i).padStart(4)}  ${s.kind === 'kernel' ? s.kernel : s.kind}  ${s.label}  (${size(bytes)})`);
    for (const [name, access, a] of bufs) {
      const shape = `[${a.shape.join(', ')}]${a.ids ? ' u32' : ''}`;
      lines.push(`        ${name.padEnd(14)} ${access.padEnd(10)} ${a.label} ${shape}  ${where(a)}  ${size(a.size * 4)}`);
    }
  });
  return lines.join('\n');
}
