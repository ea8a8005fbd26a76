import type { WaitHook } from './context.ts';

/**
 * A wait hook for Dawn for Node on a CPU adapter. Dawn for Node (the `webgpu` package) learns that the GPU is done
 * by polling: while any of its promises is pending it calls wgpuInstanceProcessEvents from setImmediate, again and
 * again (src/dawn/node/binding/AsyncRunner.cpp), a busy loop that holds one CPU core at 100%. On a GPU that costs a
 * core and nothing else; on SwiftShader that core is one the shaders would run on: with 2 cores, a medium forward
 * took 1.7x as long in Node as in Chromium, its main thread at 99.9% and SwiftShader's two workers sharing the other
 * core (docs/speed.md).
 *
 * While a wait is open, this hook puts one more callback in that loop: it sleeps `sliceMs` (Atomics.wait, which
 * Node's main thread may do) and queues itself again. Each turn of the event loop then sleeps, Dawn still polls once
 * per turn, and a wait ends at most `sliceMs` after the device is done. The loop stops with the last open wait.
 */
export function napWhileWaiting(sliceMs = 1): WaitHook {
  if (!(sliceMs > 0 && sliceMs <= 100)) throw new RangeError(`napWhileWaiting: sliceMs ${sliceMs} is not in (0, 100]`);
  const cell = new Int32Array(new SharedArrayBuffer(4));
  let open = 0;
  let napping = false;
  const nap = () => {
    if (open === 0) {
      napping = false;
      return;
    }
    Atomics.wait(cell, 0, 0, sliceMs);
    setImmediate(nap);
  };
  return () => {
    open++;
    if (!napping) {
      napping = true;
      setImmediate(nap);
    }
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      open--;
    };
  };
}
