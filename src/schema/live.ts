import { requireViewer } from '../domain/accounts.js'
import type { ChatEventView, NotificationView } from '../domain/live/views.js'
import { builder } from './builder.js'
import { costs, READ, WRITE } from './cost.js'
import { ChatRef, MessageRef, ParticipantRef } from './chats.js'

type EventOf<K extends ChatEventView['kind']> = Extract<ChatEventView, { kind: K }>
type NotificationOf<K extends NotificationView['kind']> = Extract<NotificationView, { kind: K }>

const ChatCloseReasonEnum = builder.enumType('ChatCloseReason', {
  description: 'Why a chat ended.',
  values: {
    LEFT: { description: 'A participant left.' },
    BLOCKED: { description: 'A participant blocked the other.' },
    EXPIRED: { description: 'No message for CHAT_TTL_SECONDS (24 h): the chat is gone for both sides.' },
  } as const,
})

const MessageEventRef = builder.objectRef<EventOf<'message'>>('MessageEvent').implement({
  description: 'A message of the chat, from either side, delivered in seq order without gaps or duplicates.',
  fields: (t) => ({
    chatId: t.exposeID('chatId', { description: 'The chat.' }),
    message: t.field({ type: MessageRef, description: 'The message.', resolve: (event) => event.message }),
  }),
})

const TypingEventRef = builder.objectRef<EventOf<'typing'>>('TypingEvent').implement({
  description: 'The peer started or stopped typing (false also after 6 s without a refresh).',
  fields: (t) => ({
    chatId: t.exposeID('chatId', { description: 'The chat.' }),
    typing: t.exposeBoolean('typing', { description: 'Whether the peer is typing now.' }),
  }),
})

const ReceiptEventRef = builder.objectRef<EventOf<'receipt'>>('ReceiptEvent').implement({
  description: "The peer's delivery or read mark moved.",
  fields: (t) => ({
    chatId: t.exposeID('chatId', { description: 'The chat.' }),
    peerDeliveredSeq: t.exposeInt('peerDeliveredSeq', { description: "Highest seq that reached one of the peer's devices." }),
    peerReadSeq: t.exposeInt('peerReadSeq', { description: 'Highest seq the peer marked read.' }),
  }),
})

const PresenceEventRef = builder.objectRef<EventOf<'presence'>>('PresenceEvent').implement({
  description: 'The peer opened its first, or closed its last, subscription to this chat.',
  fields: (t) => ({
    chatId: t.exposeID('chatId', { description: 'The chat.' }),
    peerPresent: t.exposeBoolean('peerPresent', { description: 'Whether the peer is in the chat now, on any device.' }),
  }),
})

const ChatClosedEventRef = builder.objectRef<EventOf<'closed'>>('ChatClosedEvent').implement({
  description: 'The chat ended; the subscription completes after this event.',
  fields: (t) => ({
    chatId: t.exposeID('chatId', { description: 'The chat.' }),
    reason: t.field({ type: ChatCloseReasonEnum, description: 'LEFT, BLOCKED or EXPIRED.', resolve: (event) => event.reason }),
  }),
})

const chatEventTypes = {
  message: MessageEventRef,
  typing: TypingEventRef,
  receipt: ReceiptEventRef,
  presence: PresenceEventRef,
  closed: ChatClosedEventRef,
} as const

const ChatEventUnion = builder.unionType('ChatEvent', {
  description: 'Something that happened in a chat.',
  types: Object.values(chatEventTypes),
  resolveType: (event) => chatEventTypes[event.kind],
})

const ChatStartedNotificationRef = builder.objectRef<NotificationOf<'chatStarted'>>('ChatStartedNotification').implement({
  description: 'Someone opened a chat with the caller.',
  fields: (t) => ({
    chatId: t.exposeID('chatId', { description: 'The new chat.' }),
    postId: t.exposeID('postId', { description: 'The post it is about.' }),
    peer: t.field({ type: ParticipantRef, description: 'Who opened it, as anonymous as ever.', resolve: (n) => n.peer }),
  }),
})

const NewMessageNotificationRef = builder.objectRef<NotificationOf<'newMessage'>>('NewMessageNotification').implement({
  description: 'A message for the caller.',
  fields: (t) => ({
    chatId: t.exposeID('chatId', { description: 'The chat.' }),
    message: t.field({ type: MessageRef, description: 'The message.', resolve: (n) => n.message }),
    unreadCount: t.exposeInt('unreadCount', { description: "The caller's unread messages in that chat." }),
  }),
})

const ChatClosedNotificationRef = builder.objectRef<NotificationOf<'chatClosed'>>('ChatClosedNotification').implement({
  description: 'One of the caller’s chats ended: closed by a side, or expired.',
  fields: (t) => ({
    chatId: t.exposeID('chatId', { description: 'The chat.' }),
    reason: t.field({ type: ChatCloseReasonEnum, description: 'LEFT, BLOCKED or EXPIRED.', resolve: (n) => n.reason }),
  }),
})

const notificationTypes = {
  chatStarted: ChatStartedNotificationRef,
  newMessage: NewMessageNotificationRef,
  chatClosed: ChatClosedNotificationRef,
} as const

const NotificationUnion = builder.unionType('Notification', {
  description: "Something for the caller, on every one of the caller's devices.",
  types: Object.values(notificationTypes),
  resolveType: (notification) => notificationTypes[notification.kind],
})

builder.objectField(ChatRef, 'peerPresent', (t) =>
  t.boolean({
    extensions: costs({ cost: READ }),
    description: 'True while the peer has chatEvents open on this chat, on any device and server; false within 30 s of its last one ending.',
    resolve: (chat, _args, ctx) => ctx.services.live.peerPresent(requireViewer(ctx.viewer), chat.id),
  }),
)

builder.subscriptionType({ description: 'Live events, over graphql-ws on /graphql. Every field needs a valid token.' })

builder.subscriptionFields((t) => ({
  chatEvents: t.field({
    type: ChatEventUnion,
    extensions: costs({ cost: WRITE }),
    description:
      'First every stored message with seq > afterSeq (none without afterSeq), in order, then live events. Messages are never lost, reordered or repeated, across reconnects and server processes: reconnect with afterSeq = the last seq you got.',
    args: {
      chatId: t.arg.id({ required: true, description: 'The chat.' }),
      afterSeq: t.arg.int({ description: 'The last seq the client already has.' }),
    },
    subscribe: (_root, args, ctx) =>
      ctx.services.live.chatEvents(requireViewer(ctx.viewer), String(args.chatId), args.afterSeq, ctx.budget),
    resolve: (event: ChatEventView) => event,
  }),
  notifications: t.field({
    type: NotificationUnion,
    extensions: costs({ cost: WRITE }),
    description: "The caller's private stream: chats started with them, new messages for them, chats closed.",
    subscribe: (_root, _args, ctx) => ctx.services.live.notifications(requireViewer(ctx.viewer), ctx.budget),
    resolve: (notification: NotificationView) => notification,
  }),
}))

builder.mutationField('setTyping', (t) =>
  t.boolean({
    extensions: costs({ cost: WRITE }),
    description: 'Tells the peer the caller is (or stopped) typing. Refresh within 6 s to keep it on. Never stored.',
    args: {
      chatId: t.arg.id({ required: true, description: 'The chat.' }),
      typing: t.arg.boolean({ required: true, description: 'Typing or not.' }),
    },
    resolve: (_root, args, ctx) => ctx.services.live.setTyping(requireViewer(ctx.viewer), String(args.chatId), args.typing),
  }),
)
