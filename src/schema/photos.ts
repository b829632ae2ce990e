import { GraphQLError } from 'graphql'
import { requireViewer } from '../domain/accounts.js'
import type { PhotoView } from '../domain/photos.js'
import { builder } from './builder.js'
import { costs, READ, WRITE } from './cost.js'
import { MessageRef } from './chats.js'

builder.scalarType('File', {
  description: 'A file sent as a part of a GraphQL multipart request (https://github.com/jaydenseric/graphql-multipart-request-spec).',
  serialize: () => {
    throw new GraphQLError('File is an input type only.')
  },
  // Yoga hands over its own File ponyfill, not necessarily the global Blob: check the shape.
  parseValue: (value) => {
    if (typeof (value as Blob | null)?.arrayBuffer !== 'function') {
      throw new GraphQLError('File must be sent as a multipart upload.', { extensions: { code: 'BAD_USER_INPUT' } })
    }
    return value as Blob
  },
})

const PhotoRef = builder.objectRef<PhotoView>('Photo').implement({
  description: 'A photo of a chat. Its metadata (EXIF, GPS, camera) was removed on upload; it is gone with the chat.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Opaque id of the photo; pass it to sendMessage.' }),
    viewOnce: t.exposeBoolean('viewOnce', { description: 'The recipient can open it once; then it is deleted.' }),
    contentType: t.exposeString('contentType', { description: 'image/jpeg, image/png, image/webp or image/gif, read from its bytes.' }),
    byteSize: t.exposeInt('byteSize', { description: 'Size of the stored (re-encoded) image in bytes.' }),
    width: t.exposeInt('width', { description: 'Width in pixels.' }),
    height: t.exposeInt('height', { description: 'Height in pixels.' }),
    url: t.exposeString('url', {
      nullable: true,
      description:
        'A signed URL that works for a few minutes and never past the chat’s expiry. Null for a view-once photo once opened, and always for its sender.',
    }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', description: 'When the photo goes with its chat, unless the chat is extended.' }),
  }),
})

builder.objectField(MessageRef, 'photo', (t) =>
  t.field({
    type: PhotoRef,
    nullable: true,
    extensions: costs({ cost: READ }),
    description: 'The photo of the message, if it has one.',
    resolve: (message, _args, ctx) =>
      message.photoId === null ? null : ctx.services.photos.photoOf(requireViewer(ctx.viewer), message.chatId, message.photoId),
  }),
)

builder.mutationField('uploadPhoto', (t) =>
  t.field({
    type: PhotoRef,
    extensions: costs({ cost: WRITE }),
    description:
      'Uploads a photo to a chat (multipart request); send it with sendMessage(photoId). JPEG, PNG, WebP or GIF by their bytes, at most 10 MB (PAYLOAD_TOO_LARGE).',
    args: {
      chatId: t.arg.id({ required: true, description: 'The chat.' }),
      file: t.arg({ type: 'File', required: true, description: 'The image.' }),
      viewOnce: t.arg.boolean({ description: 'The recipient may open it once (default false).' }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.photos.upload(requireViewer(ctx.viewer), String(args.chatId), args.file, args.viewOnce ?? false),
  }),
)
