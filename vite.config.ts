import { defineConfig, type Plugin } from 'vite';

// One dev server for the demo (/demo/) and the in-browser kernel suite (/test/browser/).
const rootToDemo: Plugin = {
  name: 'root-to-demo',
  configureServer(server) {
    server.middlewares.use((req, res, next) => {
      if (req.url === '/' || req.url === '/index.html') {
        res.statusCode = 302;
        res.setHeader('Location', '/demo/');
        res.end();
      } else next();
    });
  },
};

// `vite build --mode lib` (npm run build, run by npm install): the library and the CLI for Node, into dist/.
const lib = {
  build: {
    ssr: true,
    outDir: 'dist',
    emptyOutDir: true,
    target: 'node20',
    rollupOptions: { input: { index: 'src/index.ts', node: 'src/node.ts', cli: 'src/cli.ts' } },
  },
};

export default defineConfig(({ mode }) => (mode === 'lib' ? lib : {
  plugins: [rootToDemo],
  server: { host: '127.0.0.1', port: 5173, strictPort: true },
  preview: { host: '127.0.0.1', port: 5173, strictPort: true },
  build: {
    target: 'es2022',
    rollupOptions: { input: { demo: 'demo/index.html' } },
  },
}));
