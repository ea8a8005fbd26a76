// lowest.wgsl — -FLT_MAX: where a running max starts and the score of a blocked key (WGSL has no -inf literal).
// A row of -inf keeps max = LOWEST, every exp() is 0 and the sum is 0, which selects the all-zero row.

const LOWEST: f32 = -0x1.fffffep+127f;
