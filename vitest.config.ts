import { defineConfig } from 'vitest/config'

export default defineConfig({
  resolve: {
    // graphql 16 ships CJS and ESM without an exports map: Node's loader (used for dependencies)
    // picks the CJS build while Vite would pick the ESM one for our sources. One copy for both,
    // or `instanceof GraphQLError` and schema realm checks fail across the two.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
    projects: [
      {
        extends: true,
        // Pure logic and the domain on in-memory stores with a fake clock: seconds, no services.
        // No module state outlives a test, so the files share their workers' module graphs
        // (isolating each file took longer than running it).
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 10_000, isolate: false },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          // test/hosts/ is the multi-host suite (root, namespaces, HAProxy): npm run test:hosts.
          exclude: ['test/unit/**', 'test/hosts/**'],
          // One DynamoDB Local for the whole run, launched by the same code as `npm start`.
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
    ],
  },
})
