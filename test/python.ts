// The Python that runs tools/ (PyTorch and numpy) for the tests that call it. Node-only.
import { spawnSync } from 'node:child_process';

/** Debian's python3-torch lives under /usr/bin/python3 (the python3 first on PATH may lack torch); ATTNSCOPE_PYTHON overrides. */
export const PYTHON = process.env.ATTNSCOPE_PYTHON ?? '/usr/bin/python3';

function missing(): string | undefined {
  const r = spawnSync(PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8', timeout: 120_000 });
  if (r.error) return `${PYTHON} does not run (${r.error.message})`;
  return r.status === 0 ? undefined : `${PYTHON} cannot import torch and numpy (apt-get install python3-torch python3-numpy)`;
}

/**
 * Why a test that needs PYTHON skips, or undefined when it runs. In CI (.ci/run installs torch and sets CI) it always
 * runs: a missing torch fails there instead of skipping.
 */
export const noTorch: string | undefined = process.env.CI ? undefined : missing();
