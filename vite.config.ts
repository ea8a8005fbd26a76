import { defineConfig, type Plugin } from 'vite';

// One dev server for the demo (/demo/) and the in-browser kernel suite (/test/browser/).
const rootToDemo: Plugin = {
  name: 'root-to-demo',
  configureServer(server) {
    server.middlewares.use((req, res, next) => {
      const [path, query] = (req.url ?? '').split(/(?=\?)/);
      if (path === '/' || path === '/index.html') {
        res.statusCode = 302;
        res.setHeader('Location', `/demo/${query ?? ''}`); // the page's options (?hub=) travel along
        res.end();
      } else next();
    });
  },
};

// `vite build --mode lib` (npm run build, run by npm install and npm pack): the library and the CLI, into dist/
// (tsc adds dist/types). The demo builds into dist-demo/ (npm run build:demo), so neither build deletes the other.
const lib = {
  build: {
    ssr: true,
    outDir: 'dist',
    emptyOutDir: true,
    target: 'node20',
    rollupOptions: { input: { index: 'src/index.ts', node: 'src/node.ts', cli: 'src/cli/main.ts' } },
  },
};

export default defineConfig(({ mode }) => (mode === 'lib' ? lib : {
  plugins: [rootToDemo],
  // The e2e suite's server (playwright.config.ts) never reloads a page under a test when a source file changes.
  server: { host: '127.0.0.1', port: 5173, strictPort: true, ...(process.env.ATTNSCOPE_E2E && { hmr: false }) },
  preview: { host: '127.0.0.1', port: 5173, strictPort: true },
  // Relative URLs for scripts, the model and workers: the built site works from any folder of any static host.
  base: './',
  build: {
    target: 'es2022',
    outDir: 'dist-demo',
    emptyOutDir: true,
    rollupOptions: { input: { demo: 'demo/index.html' } },
  },
}));
