import { builder } from './builder.js'
import './scalars.js'
import './viewer.js'
import './posts.js'

export const schema = builder.toSchema({ sortSchema: true })
