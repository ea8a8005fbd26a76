// src/gpu/nap.ts: while a wait is open each turn of the event loop sleeps a slice (so Dawn for Node's setImmediate
// polling stops holding a core); with every wait closed the loop runs free again and leaves nothing queued.
import { describe, expect, it } from 'vitest';
import { napWhileWaiting } from '../src/gpu/nap.ts';

/** Turns of the event loop (a setImmediate chain, as Dawn's polling is) completed within `ms`. */
function turnsWithin(ms: number): Promise<number> {
  return new Promise((resolve) => {
    const until = performance.now() + ms;
    let turns = 0;
    const turn = () => {
      if (performance.now() >= until) resolve(turns);
      else {
        turns++;
        setImmediate(turn);
      }
    };
    setImmediate(turn);
  });
}

describe('napWhileWaiting', () => {
  it('sleeps a slice per turn of the event loop while a wait is open, and not after it ends', async () => {
    const hook = napWhileWaiting(2);
    const free = await turnsWithin(40);
    const end = hook();
    const napped = await turnsWithin(40);
    end();
    const after = await turnsWithin(40);
    // 40 ms of 2 ms naps leave room for at most ~20 turns; a free loop turns thousands of times (hundreds under load).
    expect(napped).toBeLessThanOrEqual(21);
    expect(free).toBeGreaterThan(10 * napped);
    expect(after).toBeGreaterThan(10 * napped);
  });

  it('keeps napping until the last of overlapping waits ends; ending one twice counts once', async () => {
    const hook = napWhileWaiting(2);
    const a = hook();
    const b = hook();
    a();
    a();
    expect(await turnsWithin(40)).toBeLessThanOrEqual(21);
    b();
    const c = hook();
    expect(await turnsWithin(40)).toBeLessThanOrEqual(21);
    c();
    expect(await turnsWithin(40)).toBeGreaterThan(100);
  });

  it('rejects a slice that is not a positive number of milliseconds up to 100', () => {
    for (const bad of [0, -1, Number.NaN, 101]) expect(() => napWhileWaiting(bad)).toThrow(/sliceMs .* is not in \(0, 100\]/);
  });
});
