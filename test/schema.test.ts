import { readFileSync } from 'node:fs'
import path from 'node:path'
import { printSchema, type GraphQLField, type GraphQLInputField } from 'graphql'
import { describe, expect, it } from 'vitest'
import { schema } from '../src/schema/index.js'
import { ROOT } from './support/process.js'

describe('schema.graphql', () => {
  it('is exactly what the Pothos builder prints (run `npm run schema` after changing the schema)', () => {
    const committed = readFileSync(path.join(ROOT, 'schema.graphql'), 'utf8')
    expect(committed).toBe(printSchema(schema) + '\n')
  })

  it('describes every type and every field a client can see', () => {
    const undocumented: string[] = []
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__') || ['String', 'Boolean', 'Int', 'ID', 'Float'].includes(type.name)) continue
      if (!type.description) undocumented.push(type.name)
      if ('getFields' in type) {
        for (const field of Object.values<GraphQLField<unknown, unknown> | GraphQLInputField>(type.getFields())) if (!field.description) undocumented.push(`${type.name}.${field.name}`)
      }
    }
    expect(undocumented).toEqual([])
  })
})
