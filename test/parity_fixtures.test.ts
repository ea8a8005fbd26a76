// The committed PyTorch fixtures reproduce: tools/make_fixtures.py --verify (each re-run bit for bit from its files,
// a float64 numpy reference agreeing) and tools/make_midsize_fixtures.py --verify (each recomputed bit for bit);
// under a BLAS other than Debian's reference one (which made them) to rounding, as export_torch.reproduced says.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { MIDSIZE_FIXTURES } from './midsize.cases.ts';
import { noTorch, PYTHON } from './python.ts';

const repo = fileURLToPath(new URL('..', import.meta.url));

function python(args: string[]): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(PYTHON, args, { cwd: repo });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (status) => resolve({ status, out }));
  });
}

const skipped = noTorch ? ` (skipped: ${noTorch})` : '';

it.skipIf(noTorch !== undefined)(`tools/make_fixtures.py --verify passes on test/fixtures/${skipped}`, async () => {
  const r = await python(['tools/make_fixtures.py', '--verify']);
  expect(r.status, r.out).toBe(0);
  expect(r.out).toMatch(/^total .* in \d+ fixtures/m);
});

it.skipIf(noTorch !== undefined)(`tools/make_midsize_fixtures.py --verify passes on test/fixtures/midsize/${skipped}`, async () => {
  const r = await python(['tools/make_midsize_fixtures.py', '--verify']);
  expect(r.status, r.out).toBe(0);
  expect(r.out.match(/ verified$/gm)?.length).toBe(MIDSIZE_FIXTURES.length);
});
