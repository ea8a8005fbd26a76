// units.wgsl — what one element of a VEC4 kernel's arrays is: T, a vec4 of f32 under VEC4 (the host checks that
// the lengths and offsets are multiples of 4), else one f32; U, the same shape in u32 (for bit operations).

#if VEC4
alias T = vec4<f32>;
alias U = vec4<u32>;
#else
alias T = f32;
alias U = u32;
#endif
