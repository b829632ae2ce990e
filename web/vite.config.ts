import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

/**
 * The web chat: `npm run build` writes web/dist, which Hush serves at `/` (WEB_APP). It is built
 * on the client package's sources, so the app and the package never drift apart. Everything goes
 * into the bundle (no CDN, no web font): the page asks nothing of any other origin.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  publicDir: 'public',
  resolve: {
    alias: { '@hush/client': fileURLToPath(new URL('../client/src/index.ts', import.meta.url)) },
  },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // One small stylesheet and one script: nothing inlined as data: URLs, which the CSP refuses.
    assetsInlineLimit: 0,
  },
  // `npx vite --config web/vite.config.ts`: the app with live reload, on a Hush running at HUSH_URL.
  server: {
    proxy: Object.fromEntries(['/graphql', '/photos'].map((path) => [path, { target: process.env.HUSH_URL ?? 'http://localhost:4000', ws: true }])),
  },
  logLevel: 'warn',
})
