import { writeFileSync } from 'node:fs'
import { printSchema } from 'graphql'
import { schema } from '../src/schema/index.js'

// schema.graphql is printed from the Pothos builder (sorted, so the file is stable) and committed.
writeFileSync(new URL('../schema.graphql', import.meta.url), printSchema(schema) + '\n')
