import { requireViewer } from '../domain/accounts.js'
import type { CatchUp } from '../domain/chats/catch-up.js'
import { builder } from './builder.js'
import { ChatRef } from './chats.js'
import { costs, READ } from './cost.js'

const InboxRef = builder.objectRef<CatchUp>('Inbox').implement({
  description: 'What changed in the caller’s chats since a cursor: what a returning app needs, in one request.',
  fields: (t) => ({
    chats: t.field({
      type: [ChatRef],
      description: 'Chats that are new, got messages, or closed since the cursor (with their unread counts), most recently active first.',
      // Counted per chat by `inbox`'s own page.
      resolve: (inbox) => inbox.chats,
    }),
    expired: t.idList({ description: 'Ids of chats of the cursor that have expired since: they are gone for good.', resolve: (inbox) => inbox.expired }),
    hasMore: t.exposeBoolean('hasMore', { description: 'More chats changed than `first`: ask again with `cursor` for the rest.' }),
    cursor: t.exposeString('cursor', { description: 'Opaque: pass it as `since` next time (e.g. when the app comes back).' }),
  }),
})

builder.queryField('inbox', (t) =>
  t.field({
    type: InboxRef,
    description:
      'Catch-up in one request: the chats that changed since `since`, and those that expired. Without `since`, every chat of the caller. Then subscribe to chatEvents with each chat’s lastSeq as afterSeq for a gap-free continuation.',
    extensions: costs({ cost: 2 * READ, page: { arg: 'first', default: 20, max: 100 } }),
    args: {
      since: t.arg.string({ description: 'The cursor of the previous inbox answer.' }),
      first: t.arg.int({ description: 'At most this many chats, 1 to 100 (default 20).' }),
    },
    resolve: (_root, args, ctx) => ctx.services.catchUp.inbox(requireViewer(ctx.viewer), args.since, args.first),
  }),
)
