import type { Act, Step } from './plan.ts';

/** Which slot each activation lives in, and how large each slot must be (f32 elements). */
export interface SlotAssignment {
  slotOf: Map<number, number>;
  slotSizes: number[];
  /** Largest total size of activations alive at one time: the lower bound slots are measured against. */
  peakLive: number;
}

/**
 * Assigns activations to reusable slots by lifetime. An activation lives from the step that first writes it
 * (inputs: before step 0) to the last step that reads it (outputs: past the end). At each step, slots whose
 * activations are dead are freed before the step's outputs are placed, best fit first — never onto a slot the
 * same step reads, because those activations are still alive. With `backwardStart`, steps from there on form a
 * phase that may run several times after one run of the steps before it: what the forward leaves for the
 * backward lives to the end.
 */
export function assignSlots(
  acts: readonly Act[],
  steps: readonly Step[],
  inputs: readonly Act[],
  outputs: readonly Act[],
  external: ReadonlySet<number> = new Set(),
  backwardStart = steps.length,
): SlotAssignment {
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  for (const a of inputs) first.set(a.id, -1);
  steps.forEach((s, i) => {
    for (const a of s.writes) if (!first.has(a.id)) first.set(a.id, i);
    for (const a of s.reads) last.set(a.id, i);
  });
  for (const a of outputs) last.set(a.id, steps.length);
  for (const [id, l] of last) if (l >= backwardStart && (first.get(id) ?? -1) < backwardStart) last.set(id, steps.length);
  for (const id of external) {
    first.delete(id);
    last.delete(id);
  }
  for (const a of acts) {
    if (external.has(a.id)) continue;
    if (!first.has(a.id)) {
      if (last.has(a.id)) throw new Error(`plan: activation ${a.label} is read but never written nor given as input`);
      continue; // never used
    }
    if (!last.has(a.id) || last.get(a.id)! < first.get(a.id)!) last.set(a.id, first.get(a.id)!);
  }

  const byFirst = new Map<number, Act[]>();
  const byLast = new Map<number, Act[]>();
  for (const a of acts) {
    if (!first.has(a.id)) continue;
    const f = first.get(a.id)!;
    const l = last.get(a.id)!;
    byFirst.set(f, [...(byFirst.get(f) ?? []), a]);
    byLast.set(l, [...(byLast.get(l) ?? []), a]);
  }

  const slotOf = new Map<number, number>();
  const slotSizes: number[] = [];
  const free = new Set<number>();
  let live = 0;
  let peakLive = 0;
  for (let t = -1; t <= steps.length; t++) {
    // Activations last read before t are dead now.
    for (const a of byLast.get(t - 1) ?? []) {
      free.add(slotOf.get(a.id)!);
      live -= a.size;
    }
    for (const a of byFirst.get(t) ?? []) {
      let best = -1;
      for (const s of free) {
        const fits = slotSizes[s] >= a.size;
        if (best < 0) best = s;
        else {
          const bestFits = slotSizes[best] >= a.size;
          // Prefer the smallest slot that fits; failing that, the largest (it grows least).
          if ((fits && (!bestFits || slotSizes[s] < slotSizes[best])) || (!fits && !bestFits && slotSizes[s] > slotSizes[best])) best = s;
        }
      }
      if (best < 0) {
        best = slotSizes.length;
        slotSizes.push(0);
      } else free.delete(best);
      slotSizes[best] = Math.max(slotSizes[best], a.size);
      slotOf.set(a.id, best);
      live += a.size;
    }
    peakLive = Math.max(peakLive, live);
  }
  return { slotOf, slotSizes, peakLive };
}
