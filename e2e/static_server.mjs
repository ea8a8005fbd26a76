// A plain static file server, as a user's host would be: serves DIR under the URL prefix PREFIX on 127.0.0.1:PORT,
// files only (a folder's index.html for a URL ending in /), no rewriting, no fallbacks, 404 for everything else.
// Usage: node e2e/static_server.mjs DIR PREFIX PORT   (playwright.config.ts serves the built demo with it)
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';
import process from 'node:process';
import { URL } from 'node:url';

const [dir, prefix, port] = process.argv.slice(2);
if (!dir || !prefix?.startsWith('/') || !prefix.endsWith('/') || !Number(port)) {
  process.stderr.write('usage: node e2e/static_server.mjs DIR /PREFIX/ PORT\n');
  process.exit(2);
}
const root = resolve(dir);
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.wgsl': 'text/plain; charset=utf-8',
};

createServer((req, res) => {
  const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  const file = path.startsWith(prefix) ? normalize(join(root, path.slice(prefix.length) || '.')) : undefined;
  let target = file && (file === root || file.startsWith(root + '/')) ? file : undefined;
  try {
    if (target && statSync(target).isDirectory()) target = path.endsWith('/') ? join(target, 'index.html') : undefined;
    if (!target || !statSync(target).isFile()) throw new Error('not a file');
  } catch {
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`404 ${path}\n`);
    return;
  }
  res.writeHead(200, { 'content-type': TYPES[extname(target)] ?? 'application/octet-stream', 'content-length': statSync(target).size });
  if (req.method === 'HEAD') res.end();
  else createReadStream(target).pipe(res);
}).listen(Number(port), '127.0.0.1', () => process.stdout.write(`serving ${root} at http://127.0.0.1:${port}${prefix}\n`));
