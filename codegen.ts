import type { CodegenConfig } from '@graphql-codegen/cli'

/**
 * The apps' contract: the operations in operations/*.graphql, typed against the printed schema.
 * `npm run codegen` writes
 * - client/src/generated/: typed documents for the client package and apps, each carrying its
 *   SHA-256 hash, and persisted-documents.json (hash → document), the manifest TRUSTED_DOCUMENTS
 *   takes;
 * - test/generated/: the same documents for the tests.
 * CI fails when it would write anything else.
 */
const typed = {
  preset: 'client',
  config: {
    scalars: { DateTime: 'string', File: 'File' },
    enumsAsTypes: true,
    useTypeImports: true,
  },
} as const

const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['operations/*.graphql'],
  ignoreNoDocuments: false,
  emitLegacyCommonJSImports: false,
  generates: {
    'client/src/generated/': {
      ...typed,
      presetConfig: { fragmentMasking: false, persistedDocuments: { hashAlgorithm: 'sha256' } },
    },
    'test/generated/': { ...typed, presetConfig: { fragmentMasking: false } },
  },
}

export default config
