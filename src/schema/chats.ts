import { requireViewer } from '../domain/accounts.js'
import type { ChatView, MessageView, ParticipantView } from '../domain/chats/views.js'
import { builder } from './builder.js'
import { costs, READ, WRITE } from './cost.js'
import { PostRef } from './posts.js'

const ParticipantRoleEnum = builder.enumType('ParticipantRole', {
  description: 'How a participant is related to the post the chat is about.',
  values: {
    AUTHOR: { description: 'Wrote the post.' },
    COMMENTER: { description: 'Did not write the post (commented on it, or started the chat from it).' },
  } as const,
})

const ChatStatusEnum = builder.enumType('ChatStatus', {
  description: 'Whether a chat still takes messages.',
  values: {
    ACTIVE: { description: 'Open: both sides may send.' },
    LEFT: { description: 'One side left; no more messages.' },
    BLOCKED: { description: 'One side blocked the other; no more messages, and no new chat between them.' },
  } as const,
})

export const ParticipantRef = builder.objectRef<ParticipantView>('Participant').implement({
  description: 'One side of a chat, as anonymous as the post: a role and an alias, never an identity.',
  fields: (t) => ({
    alias: t.exposeString('alias', {
      description: 'A name like "Amber Fox": the same for the whole chat, unrelated to the same user in other chats.',
    }),
    role: t.field({ type: ParticipantRoleEnum, description: 'AUTHOR or COMMENTER of the post.', resolve: (p) => p.role }),
  }),
})

export const MessageRef = builder.objectRef<MessageView>('Message').implement({
  description: 'A message of a chat.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Opaque id of the message.' }),
    chatId: t.exposeID('chatId', { description: 'The chat it belongs to.' }),
    seq: t.exposeInt('seq', { description: 'Its place in the chat: 1, 2, 3 … without gaps.' }),
    clientMessageId: t.exposeID('clientMessageId', {
      description:
        'For the sender: the id they chose, with which a retry returns this message. For the peer: the message id (the sender’s choice is never shown to anyone else).',
    }),
    fromMe: t.exposeBoolean('fromMe', { description: 'True when the caller sent it.' }),
    body: t.exposeString('body', { nullable: true, description: 'The text, 1 to 4,000 characters.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the server stored it.' }),
  }),
})

export const ChatRef = builder.objectRef<ChatView>('Chat').implement({
  description: 'An anonymous 1:1 chat about a post. It disappears, for both sides, CHAT_TTL_SECONDS (24 h) after its last message.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Opaque id of the chat.' }),
    post: t.field({
      type: PostRef,
      description: 'The post the chat is about.',
      extensions: costs({ cost: READ }),
      resolve: async (chat, _args, ctx) => {
        const post = await ctx.services.posts.post(requireViewer(ctx.viewer), chat.postId)
        if (!post) throw new Error(`post ${chat.postId} of chat ${chat.id} is missing`)
        return post
      },
    }),
    me: t.field({ type: ParticipantRef, description: 'The caller, as the peer sees them.', resolve: (chat) => chat.me }),
    peer: t.field({ type: ParticipantRef, description: 'The other side.', resolve: (chat) => chat.peer }),
    status: t.field({ type: ChatStatusEnum, description: 'ACTIVE, LEFT or BLOCKED.', resolve: (chat) => chat.status }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the chat was started.' }),
    lastActivityAt: t.expose('lastActivityAt', { type: 'DateTime', description: 'Its start or its last message.' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', description: 'When it disappears unless another message comes.' }),
    lastSeq: t.exposeInt('lastSeq', { description: 'Seq of the newest message; 0 before the first.' }),
    cursor: t.string({
      description: 'Its place in `chats` (by last activity): pass it as `after` to get the chats that follow it.',
      resolve: (chat, _args, ctx) => ctx.services.chats.cursorOf(chat),
    }),
    unreadCount: t.int({
      description: "The peer's messages after the caller's read mark.",
      resolve: (chat, _args, ctx) => ctx.services.receipts.unreadCount(chat),
    }),
    peerDeliveredSeq: t.exposeInt('peerDeliveredSeq', {
      description: "Highest seq that reached one of the peer's devices: the caller's messages up to it were delivered.",
    }),
    peerReadSeq: t.exposeInt('peerReadSeq', {
      description: "Highest seq the peer marked read: the caller's messages up to it were read. Never moves back.",
    }),
    messages: t.field({
      type: [MessageRef],
      extensions: costs({ cost: READ, page: { arg: 'last', default: 50, max: 100 } }),
      description:
        'History in seq order: with afterSeq, the first `last` messages after it; otherwise the newest `last` messages (before beforeSeq, when given).',
      args: {
        afterSeq: t.arg.int({ description: 'Only messages with a greater seq.' }),
        beforeSeq: t.arg.int({ description: 'Only messages with a smaller seq.' }),
        last: t.arg.int({ description: 'At most this many, 1 to 100 (default 50).' }),
      },
      resolve: (chat, args, ctx) => ctx.services.messages.history(requireViewer(ctx.viewer), chat, args),
    }),
  }),
})

builder.queryFields((t) => ({
  chat: t.field({
    type: ChatRef,
    nullable: true,
    description: "One of the caller's chats; null when it does not exist, is not the caller's, or has expired.",
    extensions: costs({ cost: READ }),
    args: { id: t.arg.id({ required: true, description: 'The chat id.' }) },
    resolve: (_root, args, ctx) => ctx.services.chats.chat(requireViewer(ctx.viewer), String(args.id)),
  }),
  chats: t.field({
    type: [ChatRef],
    description:
      "The caller's unexpired chats, open or closed, most recently active first, `first` at a time: for the next page pass the last one's `cursor` as `after`.",
    extensions: costs({ cost: 2 * READ, page: { arg: 'first', default: 100, max: 100 } }),
    args: {
      first: t.arg.int({ description: 'At most this many, 1 to 100 (default 100).' }),
      after: t.arg.string({ description: 'The `cursor` of the last chat of the previous page.' }),
    },
    resolve: (_root, args, ctx) => ctx.services.chats.chats(requireViewer(ctx.viewer), args.first, args.after),
  }),
}))

builder.mutationFields((t) => ({
  startChat: t.field({
    extensions: costs({ cost: WRITE }),
    type: ChatRef,
    description:
      'Opens (or returns) the chat with the author of the post, or with the author of `commentId`. The same two users and post always get the same live chat.',
    args: {
      postId: t.arg.id({ required: true, description: 'The post.' }),
      commentId: t.arg.id({ description: 'A comment of that post, to chat with its author instead.' }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.starts.startChat(requireViewer(ctx.viewer), String(args.postId), args.commentId == null ? null : String(args.commentId)),
  }),
  sendMessage: t.field({
    extensions: costs({ cost: WRITE }),
    type: MessageRef,
    description: 'Sends a message; it gets the chat’s next seq and is durable once this answers. Retrying with the same clientMessageId returns the first message (while it is among the sender’s last 8 in the chat).',
    args: {
      chatId: t.arg.id({ required: true, description: 'The chat.' }),
      clientMessageId: t.arg.id({ required: true, description: 'An id the client picks per message (e.g. a UUID), for safe retries.' }),
      body: t.arg.string({ description: 'The text, 1 to 4,000 characters.' }),
      photoId: t.arg.id({ description: 'A photo uploaded to this chat.' }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.messages.sendMessage(
        requireViewer(ctx.viewer),
        String(args.chatId),
        String(args.clientMessageId),
        args.body,
        args.photoId == null ? null : String(args.photoId),
      ),
  }),
  markRead: t.field({
    extensions: costs({ cost: WRITE }),
    type: ChatRef,
    description: 'Marks everything up to seq as read by the caller. The mark never moves back.',
    args: {
      chatId: t.arg.id({ required: true, description: 'The chat.' }),
      seq: t.arg.int({ required: true, description: 'From 0 to the chat’s lastSeq.' }),
    },
    resolve: (_root, args, ctx) => ctx.services.receipts.markRead(requireViewer(ctx.viewer), String(args.chatId), args.seq),
  }),
  leaveChat: t.field({
    extensions: costs({ cost: WRITE }),
    type: ChatRef,
    description: 'Leaves the chat: status LEFT for both sides, no more messages.',
    args: { chatId: t.arg.id({ required: true, description: 'The chat.' }) },
    resolve: (_root, args, ctx) => ctx.services.closes.leaveChat(requireViewer(ctx.viewer), String(args.chatId)),
  }),
  blockChat: t.boolean({
    extensions: costs({ cost: WRITE }),
    description: 'Blocks the peer: status BLOCKED, the report is kept, and the two can never chat again.',
    args: {
      chatId: t.arg.id({ required: true, description: 'The chat.' }),
      reason: t.arg.string({ description: 'Why, for the moderators (at most 1,000 characters).' }),
    },
    resolve: (_root, args, ctx) => ctx.services.closes.blockChat(requireViewer(ctx.viewer), String(args.chatId), args.reason),
  }),
}))
