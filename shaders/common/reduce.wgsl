// reduce.wgsl — tree reductions over a workgroup of WG threads (a power of two) through workgroup memory; every
// thread gets the result. The includer declares `override WG` and `alias Red` (f32, or a vector whose lanes reduce
// independently). Call in uniform control flow.

var<workgroup> red: array<Red, WG>;

const SUM: u32 = 0u;
const MAX: u32 = 1u;

fn reduceOp(t: u32, v: Red, op: u32) -> Red {
  red[t] = v;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k >>= 1u) {
    if (t < k) {
      if (op == MAX) {
        red[t] = max(red[t], red[t + k]);
      } else {
        red[t] = red[t] + red[t + k];
      }
    }
    workgroupBarrier();
  }
  let r = red[0];
  // Nobody may overwrite red[0] (the next reduction) before everyone has read it.
  workgroupBarrier();
  return r;
}

fn reduceSum(t: u32, v: Red) -> Red {
  return reduceOp(t, v, SUM);
}

fn reduceMax(t: u32, v: Red) -> Red {
  return reduceOp(t, v, MAX);
}
