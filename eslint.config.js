// @ts-check
// ESLint 9 flat config: @eslint/js recommended and typescript-eslint's recommended type-checked rules
// for the TypeScript sources (src/, test/, bench/, scripts/, client/src/, web/, codegen.ts, vitest.config.ts).
// `npm run lint` runs it; CI runs it in .ci/run. The layer rules live in .dependency-cruiser.cjs.
import js from '@eslint/js'
import { defineConfig, globalIgnores } from 'eslint/config'
import tseslint from 'typescript-eslint'

export default defineConfig(
  globalIgnores([
    'dist/',
    'client/dist/',
    'web/dist/',
    'node_modules/',
    'coverage/',
    'test/generated/', // written by `npm run codegen`; CI checks it is up to date instead
    'client/src/generated/', // the same, for the client package
    'bench/.build/',
    '.scratch/',
    '.data/',
  ]),

  {
    name: 'hush/typescript',
    files: ['{src,test,bench,scripts}/**/*.ts', 'client/src/**/*.ts', 'web/src/**/*.{ts,tsx}', 'web/vite.config.ts', 'codegen.ts', 'vitest.config.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        // Each file is checked with the tsconfig.json nearest to it (bench/ and web/ have their own;
        // web/vite.config.ts, which runs in Node, is in the root's).
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: {
      // A disable comment that no longer disables anything is noise hiding the next real finding.
      reportUnusedDisableDirectives: 'error',
    },
    rules: {
      // Floating promises stay errors; `void promise` is how the code says "fire and forget" on
      // purpose (the callee handles its own errors), so it is accepted (the rule's default, made explicit).
      '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: true }],
      // Off: the in-memory stores, presence, rate limiter and event bus (and the tests' fakes) implement
      // Promise-returning ports with `async` methods that need no `await`, on purpose: `async` keeps a
      // thrown error a rejection, as the ports' callers expect, which dropping it would change.
      '@typescript-eslint/require-await': 'off',
      // With verbatimModuleSyntax, `import { type X } from 'm'` still loads 'm' at run time (only the
      // specifier is dropped): write `import type { X } from 'm'`, so a type-only import stays one
      // (and the layer rules' type-only exemptions stay true).
      '@typescript-eslint/no-import-type-side-effects': 'error',
      // `== null` (null or undefined) is used on purpose; any other loose comparison is a bug.
      eqeqeq: ['error', 'smart'],
      // `_`-prefixed names are deliberately unused (placeholders in destructuring, loops and
      // signatures that must match an interface).
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
    },
  },

  {
    // The size the project holds its own code to: a function says one thing, a module holds one
    // responsibility (blank lines and comments not counted).
    name: 'hush/sizes',
    files: ['src/**/*.ts'],
    rules: {
      'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true }],
      'max-lines': ['error', { max: 300, skipBlankLines: true, skipComments: true }],
    },
  },

  {
    // Plain-JS configuration files at the root: no type information, just the recommended checks.
    name: 'hush/config-files',
    files: ['eslint.config.js', '.dependency-cruiser.cjs'],
    extends: [js.configs.recommended],
  },
)
