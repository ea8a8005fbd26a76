// The profile panel: model.profile() on the current input, shown as top kernels and per-layer GPU times.
import type { Model, ModelInputs } from '../src/index.ts';

type Report = Awaited<ReturnType<Model['profile']>>;

const ms = (x: number) => `${x.toFixed(x < 10 ? 2 : 1)} ms`;

function table(title: string, rows: { name: string; ms: number; count: number }[], total: number): HTMLElement {
  const wrap = document.createElement('div');
  wrap.className = 'profile-table';
  const h = document.createElement('h3');
  h.textContent = title;
  const t = document.createElement('table');
  t.innerHTML = '<thead><tr><th></th><th>GPU time</th><th>share</th><th>calls</th></tr></thead>';
  const body = document.createElement('tbody');
  const top = rows.reduce((m, r) => Math.max(m, r.ms), 0) || 1;
  for (const r of rows) {
    const tr = document.createElement('tr');
    const name = document.createElement('td');
    name.className = 'name';
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.width = `${Math.round((100 * r.ms) / top)}%`;
    const label = document.createElement('span');
    label.textContent = r.name;
    name.append(bar, label);
    tr.append(name);
    for (const s of [ms(r.ms), `${((100 * r.ms) / total).toFixed(1)}%`, String(r.count)]) {
      const td = document.createElement('td');
      td.textContent = s;
      tr.append(td);
    }
    body.append(tr);
  }
  t.append(body);
  wrap.append(h, t);
  return wrap;
}

/** Renders a report into `host` (#profile-report). */
export function renderProfile(host: HTMLElement, r: Report): void {
  host.replaceChildren();
  const summary = document.createElement('p');
  summary.className = 'profile-summary';
  summary.textContent =
    `${r.adapter}: forward ${ms(r.forwardMs)} wall (median of ${r.runs}), ${r.dispatches} dispatches; CPU encode+submit ${ms(r.cpu.encodeSubmitMs)}, ` +
    `GPU wait ${ms(r.cpu.waitMs)}, readback ${ms(r.cpu.readbackMs)}.`;
  host.append(summary);
  if (!r.timestamps || !r.byKernel || !r.byModule || r.gpuMs === undefined) {
    const p = document.createElement('p');
    p.className = 'note';
    p.textContent = 'This adapter has no timestamp-query, so per-kernel GPU times are not available: wall-clock times only.';
    host.append(p);
    return;
  }
  const total = r.gpuMs;
  const note = document.createElement('p');
  note.className = 'note';
  note.textContent = `GPU time ${ms(total)} with every dispatch in its own timed pass (so it exceeds the plain forward's GPU time); the attention captures of this page are included.`;
  host.append(note);
  const grid = document.createElement('div');
  grid.className = 'profile-grid';
  grid.append(table('Top kernels', r.byKernel.slice(0, 8).map((k) => ({ name: k.kernel, ms: k.ms, count: k.count })), total));
  const layers = r.byModule.filter((m) => /(^|\.)layers\.\d+$/.test(m.module) || /(^|\.)(src_embed|tgt_embed|embed|head|generator|norm)$/.test(m.module));
  layers.sort((a, b) => a.module.localeCompare(b.module, undefined, { numeric: true }));
  grid.append(table('Per layer', layers.map((m) => ({ name: m.module, ms: m.ms, count: m.count })), total));
  host.append(grid);
}

export async function runProfile(model: Model, inputs: ModelInputs, host: HTMLElement): Promise<Report> {
  const r = await model.profile(inputs, { runs: 3 });
  renderProfile(host, r);
  return r;
}
