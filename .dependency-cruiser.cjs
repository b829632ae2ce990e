// Hush's layer rules (README, "Architecture"): src/server -> src/schema -> src/domain -> ports
// <- src/infra, with src/wiring, src/app.ts and src/main.ts composing everything.
// Run with `npm run lint:layers` (depcruise src --config .dependency-cruiser.cjs); CI runs it in .ci/run.
// Paths in the rules are regular expressions on the resolved path, relative to the repository root:
// a package resolves to node_modules/<name>/..., a local module to src/....

// Packages that mean a transport, a store or a library the domain must not know about. Matched
// wherever they resolve (a nested node_modules too), and by bare name should one fail to resolve.
const DOMAIN_FORBIDDEN_PACKAGES = [
  'graphql', // the GraphQL surface lives in src/schema and src/server
  'graphql-[^/]+', // graphql-ws, graphql-yoga, graphql-jit, graphql-redis-subscriptions, ...
  '@pothos/[^/]+',
  'ioredis',
  '@aws-sdk/[^/]+',
  'dynamodb-toolbox',
  'ws',
  'pino', // the domain reports through its ports, not a logger
  'sharp',
  'jose',
]
const packages = (names) => `(^|node_modules/)(${names.join('|')})(/|$)`

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'domain-not-to-frameworks',
      comment:
        'src/domain holds the rules and talks to the world through src/domain/ports.ts and events.ts only: ' +
        'no GraphQL, Pothos, Redis, AWS, DynamoDB, WebSocket, logger, image or JWT package. Put the code that ' +
        'needs one in src/infra (behind a port) or src/schema / src/server (the transport).',
      severity: 'error',
      from: { path: '^src/domain/' },
      to: { path: packages(DOMAIN_FORBIDDEN_PACKAGES) },
    },
    {
      name: 'domain-not-to-outer-layers',
      comment:
        'src/domain imports only src/domain: not src/server, src/schema, src/infra, src/wiring, src/app.ts, ' +
        'src/config.ts, src/main.ts, nor any other module outside the domain (src/logger.ts brings pino). ' +
        'Outer layers depend on the domain, never the other way round; pass what the domain needs through a port.',
      severity: 'error',
      from: { path: '^src/domain/' },
      to: { path: '^src/', pathNot: '^src/domain/' },
    },
    {
      name: 'infra-not-to-config-or-transport',
      comment:
        'src/infra implements the ports; it gets its settings as constructor arguments from src/wiring, not ' +
        'by reading src/config.ts, and it knows nothing of the transport (src/server, src/schema) or of the ' +
        'composition (src/wiring, src/app.ts).',
      severity: 'error',
      from: { path: '^src/infra/' },
      to: { path: '^src/(config\\.ts$|app\\.ts$|server/|schema/|wiring/)' },
    },
    {
      name: 'server-not-to-infra',
      comment:
        'src/server (HTTP, graphql-ws) reaches stores, Redis and the rest only through the domain services ' +
        'that src/wiring builds and hands it; it imports neither src/infra nor src/wiring.',
      severity: 'error',
      from: { path: '^src/server/' },
      to: { path: '^src/(infra|wiring)/' },
    },
    {
      name: 'schema-not-to-server-or-infra',
      comment:
        'src/schema describes the GraphQL surface over the domain; the transports in src/server use it, not ' +
        'the other way round, and it reaches infrastructure only through the domain (no src/infra, src/wiring).',
      severity: 'error',
      from: { path: '^src/schema/' },
      to: { path: '^src/(server|infra|wiring)/' },
    },
    {
      name: 'not-to-main',
      comment:
        'src/main.ts is the only module with side effects (environment, signals, listening); importing it ' +
        'would start the server. Compose through src/app.ts instead.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/main\\.ts$' },
      to: { path: '^src/main\\.ts$' },
    },
    {
      name: 'src-not-to-test-or-bench',
      comment:
        'Production code must not depend on tests, test support or benchmarks: they are not built into dist/ ' +
        'and may pull in dev-only packages.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'no-circular',
      comment:
        'This module is part of an import cycle within src/. Cycles make the load order (and so what is still ' +
        'undefined at import time) depend on which module is imported first; break it by moving the shared ' +
        'piece into its own module or behind a port. Cycles made only of `import type` are erased at compile ' +
        'time and are not reported.',
      severity: 'error',
      from: { path: '^src/' },
      to: {
        path: '^src/',
        circular: true,
        viaOnly: { dependencyTypesNot: ['type-only'] },
      },
    },
    {
      name: 'src-not-to-dev-dep',
      comment:
        'src/ is what `npm start` runs in production, where devDependencies may not be installed: move the ' +
        'package to "dependencies" or the code out of src/. Type-only imports are erased at compile time, ' +
        'so they may name a dev dependency.',
      severity: 'error',
      from: { path: '^src/' },
      to: {
        dependencyTypes: ['npm-dev'],
        dependencyTypesNot: ['type-only'],
        // a type-only package (@types/...) has no runtime code to miss
        pathNot: ['(^|/)node_modules/@types/'],
      },
    },
    {
      name: 'src-not-to-undeclared-package',
      comment:
        'src/ imports a package that package.json does not declare (it is only there as somebody else\'s ' +
        'dependency and can disappear or change major version on any install): add it to "dependencies".',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'src-not-to-unresolvable',
      comment:
        'src/ imports a module dependency-cruiser cannot find on disk: a typo, a missing install, or a path ' +
        'that the layer rules above would not see. Fix the import.',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Cruise src/ (the layers); record which packages it imports (the rules need them) but never
    // descend into them. node_modules must not go in `exclude`: that drops the dependencies on
    // packages altogether, and the package rules above would never fire.
    doNotFollow: { path: 'node_modules' },
    // Keep `import type` (and type-only `import { type X }`) dependencies: the layer rules are about
    // what a module knows, so `import type { GraphQLResolveInfo } from 'graphql'` in src/domain is a
    // breach too. Such dependencies carry the 'type-only' dependency type, which the dev-dependency
    // and cycle rules above exempt.
    tsPreCompilationDeps: true,
    // The project's tsconfig.json (module and moduleResolution NodeNext): dependency-cruiser reads it
    // with the TypeScript compiler and resolves the sources' `./x.js` imports to ./x.ts.
    tsConfig: { fileName: 'tsconfig.json' },
    // ESM project ("type": "module"): resolve packages through their "exports" map with the conditions
    // Node uses for an `import`, falling back to "main".
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      // The sources are .ts only; packages ship .js/.mjs/.cjs (and .d.ts for type-only ones).
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts', '.json'],
    },
  },
}
