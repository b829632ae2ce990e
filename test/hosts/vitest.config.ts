import path from 'node:path'
import { defineConfig } from 'vitest/config'

/**
 * The multi-host suite (`npm run test:hosts`, as root): Hush on three network namespaces behind
 * HAProxy (test/hosts/). It starts its own Redis, DynamoDB Local and network, so it has no global
 * setup, and it is not part of `npm test`.
 */
export default defineConfig({
  root: path.resolve(import.meta.dirname, '../..'),
  resolve: {
    // As in vitest.config.ts: one copy of graphql for Node's loader and Vite.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    name: 'hosts',
    include: ['test/hosts/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
})
