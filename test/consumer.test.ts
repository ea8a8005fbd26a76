// The package as a user gets it: `npm pack`, the tarball installed into fresh projects outside the repository, the
// README's snippets type-checked with a stock tsconfig, the Node snippet run (Dawn; SwiftShader where there is no
// GPU), the browser snippet built with Vite; publint and are-the-types-wrong on the tarball. Installs prefer the npm
// cache (`npm ci` has put every dependency's tarball there; only registry metadata may be fetched); webgpu at the
// version this repository has; typescript and vite run from this repository.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SWIFTSHADER_ICD } from '../src/gpu/node.ts';

const repo = fileURLToPath(new URL('..', import.meta.url));
const bin = (pkg: string, file: string) => join(repo, 'node_modules', pkg, file);
let work = '';
let tarball = '';

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env, timeout = 120_000): string {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}): ${r.error?.message ?? `status ${r.status}`}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}
const npm = (args: string[], cwd: string) => sh('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], cwd);

/** The README's code block after `<!-- snippet:NAME`. */
function snippet(name: string): string {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const m = new RegExp(`<!-- snippet:${name}\\b[^>]*-->\\n\`\`\`ts\\n([\\s\\S]*?)\\n\`\`\`\\n`).exec(readme);
  if (!m) throw new Error(`README.md has no ts block after <!-- snippet:${name} -->`);
  return m[1];
}

/** A fresh project with the tarball (and `more`) installed, from the npm cache where it can. */
function project(name: string, more: string[] = []): string {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `consumer-${name}`, private: true, type: 'module' }));
  npm(['install', '--prefer-offline', tarball, ...more], dir);
  return dir;
}

/** What `tsc --init` gives, minus its comments, with skipLibCheck off so the package's declarations are checked too. */
const stockTsconfig = (extra: Record<string, unknown>) =>
  JSON.stringify({
    compilerOptions: { target: 'es2022', module: 'nodenext', strict: true, verbatimModuleSyntax: true, isolatedModules: true, skipLibCheck: false, noEmit: true, types: [], ...extra },
  });
const tsc = (dir: string) => sh(process.execPath, [bin('typescript', 'bin/tsc'), '-p', dir], dir);

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'attnscope-consumer-'));
  // npm pack runs `prepare` (npm run build): the tarball holds what this checkout builds, never a stale dist/.
  // (Its stdout mixes the build's log with pack's report, so the tarball is found on disk, not parsed from it.)
  npm(['pack', '--pack-destination', work], repo);
  const packed = readdirSync(work).filter((f) => f.endsWith('.tgz'));
  if (packed.length !== 1) throw new Error(`npm pack left ${packed.length} tarballs in ${work}: ${packed.join(', ')}`);
  tarball = join(work, packed[0]);
}, 240_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('publint and are-the-types-wrong find nothing wrong; the tarball has the types, the CLI and no sources', () => {
    sh(process.execPath, [bin('publint', 'src/cli.js'), 'run', tarball, '--strict'], work);
    sh(process.execPath, [bin('@arethetypeswrong/cli', 'dist/index.js'), tarball, '--profile', 'esm-only'], work);
    const files = sh('tar', ['-tzvf', tarball], work);
    expect(files).toMatch(/^-rwxr-xr-x .* package\/dist\/cli\.js$/m);
    for (const f of ['package/dist/index.js', 'package/dist/node.js', 'package/dist/types/index.d.ts', 'package/dist/types/node.d.ts', 'package/LICENSE', 'package/README.md']) expect(files).toContain(f);
    expect(files).not.toMatch(/ package\/(src|test|shaders)\//);
    expect(files).not.toContain('package/docs/api/');
  });

  it('in a browser-only project: no webgpu installed; the README\'s browser snippet type-checks and builds with Vite', () => {
    const dir = project('browser');
    expect(existsSync(join(dir, 'node_modules', 'attnscope', 'package.json'))).toBe(true);
    expect(existsSync(join(dir, 'node_modules', 'webgpu')), 'the browser install pulled webgpu').toBe(false);
    writeFileSync(join(dir, 'main.ts'), `${snippet('browser')}\nexport {};\n`);
    writeFileSync(join(dir, 'tsconfig.json'), stockTsconfig({ module: 'esnext', moduleResolution: 'bundler', lib: ['es2022', 'dom'] }));
    tsc(dir);
    writeFileSync(join(dir, 'index.html'), '<!doctype html><script type="module" src="./main.ts"></script>\n');
    sh(process.execPath, [bin('vite', 'bin/vite.js'), 'build', '--logLevel', 'warn', '--base', './'], dir);
    const assets = readdirSync(join(dir, 'dist', 'assets'));
    const js = assets.filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(dir, 'dist', 'assets', f), 'utf8')).join('\n');
    expect(js).toContain('transformer.h.*.attn');
    expect(js, 'the browser bundle holds the WGSL kernels').toMatch(/@compute/);
    expect(js).not.toMatch(/from\s*["']node:|require\(["']node:/);
  });

  it('in a Node project with webgpu: the README\'s Node snippet type-checks and runs', () => {
    const version = (pkg: string) => `${pkg}@${(JSON.parse(readFileSync(bin(pkg, 'package.json'), 'utf8')) as { version: string }).version}`;
    const dir = project('node', [version('webgpu')]);
    const ckpt = join(repo, 'test', 'fixtures', 'hf', 'gpt2_lm');
    const code = snippet('node');
    expect(code).toContain("directoryFiles('./gpt2')");
    writeFileSync(join(dir, 'main.ts'), `${code.replace("'./gpt2'", JSON.stringify(ckpt))}\nexport {};\n`);
    writeFileSync(join(dir, 'tsconfig.json'), stockTsconfig({ noEmit: false, outDir: 'out' }));
    tsc(dir);
    const env: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? work };
    if (!env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    const out = sh(process.execPath, [join(dir, 'out', 'main.js')], dir, env).split('\n');
    // The ids the checkpoint's tokenizer must give (tools/hf_reference.py records them from HF's tokenizers).
    const expected = (JSON.parse(readFileSync(join(ckpt, 'tokenizer_expect.json'), 'utf8')) as { text: string; ids: number[] }[]).find((e) => e.text === 'the cat sat on the mat.')!;
    expect(out[0]).toBe(`logits [1, ${expected.ids.length}, 298] for ids ${JSON.stringify(expected.ids)}`);
    expect(out[1]).toMatch(/^continuation: ".+"$/);
  });

  it('without webgpu, attnscope/node says in one line what to install', () => {
    const dir = join(work, 'browser');
    writeFileSync(join(dir, 'node.mjs'), "import { createNodeContext } from 'attnscope/node';\ntry { await createNodeContext(); } catch (e) { console.log(e.message); }\n");
    expect(sh(process.execPath, ['node.mjs'], dir)).toBe("attnscope/node needs the 'webgpu' package (Dawn for Node), an optional peer dependency: npm install webgpu\n");
  });
});
