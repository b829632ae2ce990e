import type { CodegenConfig } from '@graphql-codegen/cli'

/**
 * Types the client operations the tests use (test/operations/*.graphql) against the printed
 * schema. `npm run codegen` writes test/generated/; CI fails when it would write anything else.
 */
const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['test/operations/*.graphql'],
  ignoreNoDocuments: false,
  emitLegacyCommonJSImports: false,
  generates: {
    'test/generated/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        scalars: { DateTime: 'string', File: 'File' },
        enumsAsTypes: true,
        useTypeImports: true,
      },
    },
  },
}

export default config
