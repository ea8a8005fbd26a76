// map.wgsl — one tile of an attention map drawn as coloured cells (demo/gpu/map-renderer.ts).
//
// A tile is a rows x cols grid of f32 values in `values` (row r at offset + r * stride) covering map rows [r0, r1) and
// columns [c0, c1): an exact window (rows = r1 - r0) or a downsampled grid (block i covers map rows
// [floor(i·len/rows), floor((i+1)·len/rows)), the library's attn_downsample edges). The quad covers `rect` in
// framebuffer pixels; each fragment finds its map cell from the view (the map position at rect's corner and the cell
// size in pixels), then its grid cell, and colours value / max through the 256-entry LUT (demo/views/colors.ts).

struct Tile {
  rect: vec4f,      // x, y, w, h: framebuffer pixels
  frame: vec2f,     // framebuffer size
  origin: vec2f,    // map (col, row) at rect.xy, fractional
  cellPx: vec2f,    // framebuffer pixels per map cell (x, y)
  maxValue: f32,
  offset: u32,
  extent: vec4u,    // c0, r0, c1, r1
  grid: vec2u,      // cols, rows
  stride: u32,
  pad: u32,
}

@group(0) @binding(0) var<uniform> t: Tile;
@group(0) @binding(1) var<storage, read> values: array<f32>;
@group(0) @binding(2) var<storage, read> lut: array<u32, 256>;

@vertex
fn vs(@builtin(vertex_index) i: u32) -> @builtin(position) vec4f {
  let corner = vec2f(f32(i & 1u), f32(i >> 1u));
  let px = t.rect.xy + corner * t.rect.zw;
  return vec4f(px.x / t.frame.x * 2.0 - 1.0, 1.0 - px.y / t.frame.y * 2.0, 0.0, 1.0);
}

/** Grid index of map position m in a grid of n cells over [lo, hi): block edges floor(i·len/n). */
fn block(m: u32, lo: u32, hi: u32, n: u32) -> u32 {
  return min(((m - lo + 1u) * n - 1u) / (hi - lo), n - 1u);
}

@fragment
fn fs(@builtin(position) p: vec4f) -> @location(0) vec4f {
  let pos = floor(t.origin + (p.xy - t.rect.xy) / t.cellPx);
  if (pos.x < f32(t.extent.x) || pos.y < f32(t.extent.y) || pos.x >= f32(t.extent.z) || pos.y >= f32(t.extent.w)) {
    discard;
  }
  let col = block(u32(pos.x), t.extent.x, t.extent.z, t.grid.x);
  let row = block(u32(pos.y), t.extent.y, t.extent.w, t.grid.y);
  let v = values[t.offset + row * t.stride + col];
  var k = 0u;
  if (t.maxValue > 0.0 && v > 0.0) {
    k = min(255u, u32(floor(v / t.maxValue * 255.0 + 0.5)));
  }
  return unpack4x8unorm(lut[k]);
}
