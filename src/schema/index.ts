import { builder } from './builder.js'
import './scalars.js'
import './viewer.js'
import './posts.js'
import './chats.js'
import './live.js'
import './photos.js'
import './push.js'
import './inbox.js'

export const schema = builder.toSchema({ sortSchema: true })
