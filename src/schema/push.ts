import { requireViewer } from '../domain/accounts.js'
import type { DeviceView } from '../domain/push/devices.js'
import { builder } from './builder.js'
import { ChatRef } from './chats.js'
import { costs, WRITE } from './cost.js'

const DevicePlatformEnum = builder.enumType('DevicePlatform', {
  description: 'Where a device gets its pushes from.',
  values: {
    WEB_PUSH: { description: 'A browser, through its push service (Web Push with VAPID).' },
    APNS: { description: 'An Apple device, through the Apple Push Notification service.' },
    FCM: { description: 'An Android (or any Firebase) app, through Firebase Cloud Messaging.' },
  } as const,
})

const WebPushSubscriptionInput = builder.inputType('WebPushSubscriptionInput', {
  description: 'A browser’s PushSubscription, as `subscription.toJSON()` gives it.',
  fields: (t) => ({
    endpoint: t.string({ required: true, description: 'The push service URL; only allowed push services are accepted.' }),
    p256dh: t.string({ required: true, description: 'keys.p256dh: the browser’s P-256 public key (base64url).' }),
    auth: t.string({ required: true, description: 'keys.auth: the 16-byte authentication secret (base64url).' }),
  }),
})

const DeviceInput = builder.inputType('DeviceInput', {
  description: 'A device to push to: a token for APNS and FCM, a subscription for WEB_PUSH.',
  fields: (t) => ({
    platform: t.field({ type: DevicePlatformEnum, required: true, description: 'Which push service.' }),
    token: t.string({ description: 'APNs device token or FCM registration token' }),
    webPush: t.field({ type: WebPushSubscriptionInput, description: "A browser's PushSubscription (endpoint and keys), for WEB_PUSH" }),
  }),
})

const DeviceRef = builder.objectRef<DeviceView>('Device').implement({
  description:
    'A device of the caller that gets pushes while the caller has no live subscription. It expires when not registered again for 60 days.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Opaque id: the same token always gives the same id. Pass it to unregisterDevice.' }),
    platform: t.field({ type: DevicePlatformEnum, description: 'Its push service.', resolve: (device) => device.platform }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the caller first registered it.' }),
  }),
})

const PushSettingsRef = builder.objectRef<{ vapidPublicKey: string | null }>('PushSettings').implement({
  description: 'What a client needs to subscribe to pushes.',
  fields: (t) => ({
    vapidPublicKey: t.exposeString('vapidPublicKey', {
      nullable: true,
      description: "The VAPID public key (base64url) that browsers subscribe with; null when Web Push is off",
    }),
  }),
})

builder.objectField(ChatRef, 'mutedUntil', (t) =>
  t.expose('mutedUntil', { type: 'DateTime', nullable: true, description: 'Until when the caller gets no push of this chat (muteChat); null when not muted.' }),
)

builder.queryField('pushSettings', (t) =>
  t.field({
    type: PushSettingsRef,
    description: 'What a client needs to subscribe to pushes.',
    resolve: (_root, _args, ctx) => {
      requireViewer(ctx.viewer)
      return ctx.services.devices.settings()
    },
  }),
)

builder.mutationFields((t) => ({
  registerDevice: t.field({
    type: DeviceRef,
    extensions: costs({ cost: WRITE }),
    description:
      'Registers a device for pushes (call it on every app start: it also keeps the device from expiring). Idempotent; a token registered by another account moves to the caller.',
    args: { input: t.arg({ type: DeviceInput, required: true, description: 'The device.' }) },
    resolve: (_root, args, ctx) => ctx.services.devices.register(requireViewer(ctx.viewer), args.input),
  }),
  unregisterDevice: t.boolean({
    extensions: costs({ cost: WRITE }),
    description: 'Stops pushes to one of the caller’s devices (e.g. on sign-out); false when the caller has no such device.',
    args: { id: t.arg.id({ required: true, description: 'The device’s id.' }) },
    resolve: (_root, args, ctx) => ctx.services.devices.unregister(requireViewer(ctx.viewer), String(args.id)),
  }),
  muteChat: t.field({
    type: ChatRef,
    extensions: costs({ cost: WRITE }),
    description: 'Stops pushes of one chat to the caller’s devices until `until` (live events still come). Null or a past time unmutes.',
    args: {
      chatId: t.arg.id({ required: true, description: 'The chat.' }),
      until: t.arg({ type: 'DateTime', description: 'When pushes resume.' }),
    },
    resolve: (_root, args, ctx) => ctx.services.mutes.muteChat(requireViewer(ctx.viewer), String(args.chatId), args.until),
  }),
}))
