import { requireViewer } from '../domain/accounts.js'
import type { Viewer } from '../domain/ports.js'
import { builder } from './builder.js'
import { costs, WRITE } from './cost.js'

export const ViewerRef = builder.objectRef<Viewer>('Viewer').implement({
  description: 'The caller. Only the caller ever sees its own id.',
  fields: (t) => ({
    id: t.id({ description: "The caller's own user id.", resolve: (viewer) => viewer.userId }),
  }),
})

const AuthPayloadRef = builder.objectRef<{ token: string; viewer: Viewer }>('AuthPayload').implement({
  description: 'A new account and the token that proves it.',
  fields: (t) => ({
    token: t.exposeString('token', {
      description: 'A signed JWT: send it as `Authorization: Bearer <token>`, or as `authorization` in the graphql-ws connection_init payload.',
    }),
    viewer: t.field({ type: ViewerRef, description: 'The new account.', resolve: (payload) => payload.viewer }),
  }),
})

builder.queryType({ description: 'Reads. Every field needs a valid token.' })
builder.mutationType({ description: 'Writes. Every field but signUp needs a valid token.' })

builder.queryField('viewer', (t) =>
  t.field({
    type: ViewerRef,
    description: 'The caller.',
    resolve: (_root, _args, ctx) => requireViewer(ctx.viewer),
  }),
)

builder.mutationField('signUp', (t) =>
  t.field({
    type: AuthPayloadRef,
    extensions: costs({ cost: WRITE }),
    description: 'Creates an anonymous account and returns its token. Needs no token.',
    resolve: (_root, _args, ctx) => ctx.services.accounts.signUp(ctx.clientAddress),
  }),
)
