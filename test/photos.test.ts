import { randomUUID } from 'node:crypto'
import { readFile, readdir } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { crc32 } from 'node:zlib'
import S3rver from 's3rver'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ChatPhotosDocument,
  CreatePostDocument,
  PhotoEventsDocument,
  PhotoNotificationsDocument,
  SendPhotoDocument,
  StartChatDocument,
} from './generated/graphql.js'
import { DomainError } from '../src/domain/errors.js'
import { SharpImageProcessor } from '../src/infra/images/sharp.js'
import { startTestApp, type TestApp } from './support/app.js'
import { collect, errorCode, mustRequest, request, signUp, uploadPhoto, wsClient, type TestUser } from './support/client.js'
import { itemsMentioning } from './support/dynamo.js'
import { freePort } from './support/process.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A real JPEG that gives its author away: GPS coordinates, camera make and model in EXIF. */
async function jpegWithGps(): Promise<Uint8Array> {
  const image = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 30, b: 90 } } })
    .withExif({
      IFD0: { Make: 'SnitchCam', Model: 'Traitor 3000', Copyright: 'Jane Doe' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 2964/100', GPSLongitudeRef: 'E', GPSLongitude: '2/1 17/1 4032/100' },
    })
    .jpeg()
    .toBuffer()
  return new Uint8Array(image)
}

const png = async () =>
  new Uint8Array(await sharp({ create: { width: 10, height: 20, channels: 4, background: '#00ff00' } }).png().toBuffer())

/** A plain JPEG of `width`×`height`, with GPS in EXIF and, if given, an EXIF orientation. */
async function bigJpeg(width: number, height: number, orientation?: number): Promise<Uint8Array> {
  let image = sharp({ create: { width, height, channels: 3, background: { r: 40, g: 120, b: 200 } } }).withExif({
    IFD0: { Make: 'SnitchCam' },
    IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 2964/100' },
  })
  if (orientation) image = image.withMetadata({ orientation })
  return new Uint8Array(await image.jpeg().toBuffer())
}

/** A 1×1 PNG whose header claims `width`×`height` (its IHDR rewritten, with a valid CRC). */
async function pngDeclaring(width: number, height: number): Promise<Uint8Array> {
  const bytes = Buffer.from(await sharp({ create: { width: 1, height: 1, channels: 3, background: 'black' } }).png().toBuffer())
  expect(bytes.toString('latin1', 12, 16)).toBe('IHDR')
  bytes.writeUInt32BE(width, 16)
  bytes.writeUInt32BE(height, 20)
  bytes.writeUInt32BE(crc32(bytes.subarray(12, 29)), 29)
  return new Uint8Array(bytes)
}

async function setUp(app: TestApp) {
  const author = await signUp(app.url)
  const commenter = await signUp(app.url)
  const post = (await mustRequest(app.url, CreatePostDocument, { body: 'photo' }, author.token)).createPost
  const chat = (await mustRequest(app.url, StartChatDocument, { postId: post.id }, commenter.token)).startChat
  return { author, commenter, chatId: chat.id }
}

const sendPhoto = (app: TestApp, user: TestUser, chatId: string, photoId: string, body?: string) =>
  mustRequest(app.url, SendPhotoDocument, { chatId, clientMessageId: randomUUID(), photoId, body }, user.token)

const photoOf = async (app: TestApp, user: TestUser, chatId: string, seq: number) =>
  (await mustRequest(app.url, ChatPhotosDocument, { id: chatId }, user.token)).chat?.messages.find((m) => m.seq === seq)?.photo

describe('photos on local disk', () => {
  let app: TestApp
  beforeAll(async () => {
    app = await startTestApp({ MAX_PHOTO_BYTES: String(300 * 1024) })
  })
  afterAll(() => app.stop())

  it('strips every piece of metadata by re-encoding, records the size, and serves it to the peer by a signed URL', async () => {
    const { author, commenter, chatId } = await setUp(app)
    const original = await jpegWithGps()
    expect((await sharp(original).metadata()).exif).toBeDefined()
    const upload = await uploadPhoto(app.url, commenter.token, { chatId }, { bytes: original, name: 'me.jpg', type: 'image/jpeg' })
    expect(upload.errors).toBeUndefined()
    const photo = upload.data!.uploadPhoto
    expect(photo).toMatchObject({ contentType: 'image/jpeg', width: 64, height: 48, viewOnce: false })

    const stored = new Uint8Array(await readFile(path.join(app.config.dataDir, 'photos', chatId, photo.id)))
    expect(stored.byteLength).toBe(photo.byteSize)
    const metadata = await sharp(stored).metadata()
    expect(metadata.exif).toBeUndefined()
    expect(metadata.icc).toBeUndefined()
    expect(metadata.xmp).toBeUndefined()
    const text = Buffer.from(stored).toString('latin1')
    for (const leak of ['Exif', 'SnitchCam', 'Traitor', 'Jane Doe']) expect(text).not.toContain(leak)

    const sent = await sendPhoto(app, commenter, chatId, photo.id, 'look')
    expect(sent.sendMessage.photo?.id).toBe(photo.id)
    const seen = await photoOf(app, author, chatId, sent.sendMessage.seq)
    expect(seen?.url).toBeTruthy()
    const response = await fetch(seen!.url!)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('image/jpeg')
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(stored)
    // Tampered or forged signatures are refused.
    const tampered = new URL(seen!.url!)
    tampered.searchParams.set('e', String(Number(tampered.searchParams.get('e')) + 60_000))
    expect((await fetch(tampered)).status).toBe(404)
    tampered.searchParams.set('s', 'AAAA')
    expect((await fetch(tampered)).status).toBe(404)
    // The URL names neither user.
    for (const id of [author.id, commenter.id]) expect(seen!.url).not.toContain(id)
  })

  it('judges the type by the bytes: a PNG called .jpg is a PNG, text called .png is refused', async () => {
    const { commenter, chatId } = await setUp(app)
    const disguised = await uploadPhoto(app.url, commenter.token, { chatId }, { bytes: await png(), name: 'x.jpg', type: 'image/jpeg' })
    expect(disguised.data?.uploadPhoto).toMatchObject({ contentType: 'image/png', width: 10, height: 20 })
    const fake = await uploadPhoto(app.url, commenter.token, { chatId }, { bytes: new TextEncoder().encode('not an image at all'), name: 'x.png', type: 'image/png' })
    expect(errorCode(fake)).toBe('BAD_USER_INPUT')
    const truncated = (await jpegWithGps()).slice(0, 200)
    expect(errorCode(await uploadPhoto(app.url, commenter.token, { chatId }, { bytes: truncated, name: 'x.jpg', type: 'image/jpeg' }))).toBe('BAD_USER_INPUT')
  })

  it('refuses an upload past the limit with PAYLOAD_TOO_LARGE, and strangers with NOT_FOUND', async () => {
    const { commenter, chatId } = await setUp(app)
    const big = new Uint8Array(400 * 1024).fill(7)
    big.set(await png())
    const tooLarge = await uploadPhoto(app.url, commenter.token, { chatId }, { bytes: big, name: 'big.png', type: 'image/png' })
    expect(errorCode(tooLarge)).toBe('PAYLOAD_TOO_LARGE')
    const stranger = await signUp(app.url)
    expect(errorCode(await uploadPhoto(app.url, stranger.token, { chatId }, { bytes: await png(), name: 'a.png', type: 'image/png' }))).toBe('NOT_FOUND')
    // Nor may anyone send a photo of another chat, or of the other side.
    const other = await setUp(app)
    const foreign = (await uploadPhoto(app.url, other.commenter.token, { chatId: other.chatId }, { bytes: await png(), name: 'a.png', type: 'image/png' })).data!.uploadPhoto
    const attempt = await request(app.url, SendPhotoDocument, { chatId, clientMessageId: randomUUID(), photoId: foreign.id }, commenter.token)
    expect(errorCode(attempt)).toBe('NOT_FOUND')
  })

  it('lets the recipient open a view-once photo exactly once, even with two GETs at once; then it is gone for both', async () => {
    const { author, commenter, chatId } = await setUp(app)
    const photo = (await uploadPhoto(app.url, commenter.token, { chatId, viewOnce: true }, { bytes: await png(), name: 'once.png', type: 'image/png' })).data!.uploadPhoto
    expect(photo.url).toBeNull()
    const { sendMessage } = await sendPhoto(app, commenter, chatId, photo.id)
    expect(sendMessage.photo?.url).toBeNull()
    expect((await photoOf(app, commenter, chatId, sendMessage.seq))?.url).toBeNull()
    const forRecipient = await photoOf(app, author, chatId, sendMessage.seq)
    expect(forRecipient?.viewOnce).toBe(true)
    const [first, second] = await Promise.all([fetch(forRecipient!.url!), fetch(forRecipient!.url!)])
    expect([first.status, second.status].sort()).toEqual([200, 404])
    expect((await fetch(forRecipient!.url!)).status).toBe(404)
    expect((await photoOf(app, author, chatId, sendMessage.seq))?.url).toBeNull()
    expect((await photoOf(app, commenter, chatId, sendMessage.seq))?.url).toBeNull()
    expect(await readdir(path.join(app.config.dataDir, 'photos', chatId))).not.toContain(photo.id)
  })

  it('answers HEAD from the record without using up a view-once photo, and 405 to other methods', async () => {
    const { author, commenter, chatId } = await setUp(app)
    const photo = (await uploadPhoto(app.url, commenter.token, { chatId, viewOnce: true }, { bytes: await png(), name: 'once.png', type: 'image/png' })).data!.uploadPhoto
    const { sendMessage } = await sendPhoto(app, commenter, chatId, photo.id)
    const url = (await photoOf(app, author, chatId, sendMessage.seq))!.url!
    const stored = new Uint8Array(await readFile(path.join(app.config.dataDir, 'photos', chatId, photo.id)))
    // Link previewers and prefetchers HEAD a link before anyone opens it, maybe several times.
    for (let i = 0; i < 3; i++) {
      const head = await fetch(url, { method: 'HEAD' })
      expect(head.status).toBe(200)
      expect(head.headers.get('content-type')).toBe('image/png')
      expect(head.headers.get('content-length')).toBe(String(photo.byteSize))
      expect(head.headers.get('cache-control')).toBe('private, no-store')
      expect(head.headers.get('x-content-type-options')).toBe('nosniff')
      expect((await head.arrayBuffer()).byteLength).toBe(0)
    }
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const response = await fetch(url, { method, body: method === 'POST' || method === 'PUT' ? 'x'.repeat(1000) : undefined })
      expect(response.status, method).toBe(405)
      expect(response.headers.get('allow')).toBe('GET, HEAD')
      await response.arrayBuffer()
    }
    // Nothing above used it up: the recipient still has the URL, and the bytes are still there.
    expect((await photoOf(app, author, chatId, sendMessage.seq))?.url).toBeTruthy()
    expect(await readdir(path.join(app.config.dataDir, 'photos', chatId))).toContain(photo.id)
    const get = await fetch(url)
    expect(get.status).toBe(200)
    expect(get.headers.get('content-length')).toBe(String(photo.byteSize))
    expect(new Uint8Array(await get.arrayBuffer())).toEqual(stored)
    expect((await fetch(url)).status).toBe(404)
    expect((await fetch(url, { method: 'HEAD' })).status).toBe(404)
    expect(await readdir(path.join(app.config.dataDir, 'photos', chatId))).not.toContain(photo.id)
  })

  it('answers HEAD for an ordinary photo too, and keeps serving it', async () => {
    const { author, commenter, chatId } = await setUp(app)
    const photo = (await uploadPhoto(app.url, commenter.token, { chatId }, { bytes: await png(), name: 'a.png', type: 'image/png' })).data!.uploadPhoto
    const { sendMessage } = await sendPhoto(app, commenter, chatId, photo.id)
    const url = (await photoOf(app, author, chatId, sendMessage.seq))!.url!
    const head = await fetch(url, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.headers.get('content-length')).toBe(String(photo.byteSize))
    for (let i = 0; i < 2; i++) expect((await fetch(url)).status).toBe(200)
    // An invalid signature is as unknown to HEAD as to GET.
    const forged = new URL(url)
    forged.searchParams.set('s', 'AAAA')
    expect((await fetch(forged, { method: 'HEAD' })).status).toBe(404)
  })

  it('carries photos in MessageEvent, NewMessageNotification and replay', async () => {
    const { author, commenter, chatId } = await setUp(app)
    const client = wsClient(app.url, author.token)
    try {
      const events = collect(client, PhotoEventsDocument, { chatId, afterSeq: 0 })
      const notifications = collect(client, PhotoNotificationsDocument)
      await sleep(300)
      const photo = (await uploadPhoto(app.url, commenter.token, { chatId }, { bytes: await png(), name: 'a.png', type: 'image/png' })).data!.uploadPhoto
      await sendPhoto(app, commenter, chatId, photo.id)
      const [event] = await events.until((items) => items.length > 0)
      expect(event!.chatEvents).toMatchObject({ __typename: 'MessageEvent', message: { seq: 1, photo: { id: photo.id, contentType: 'image/png' } } })
      expect(event!.chatEvents.__typename === 'MessageEvent' && event!.chatEvents.message.photo?.url).toBeTruthy()
      const [notification] = await notifications.until((items) => items.length > 0)
      expect(notification!.notifications).toMatchObject({ __typename: 'NewMessageNotification', message: { photo: { id: photo.id } } })
      const replay = collect(client, PhotoEventsDocument, { chatId, afterSeq: 0 })
      const [replayed] = await replay.until((items) => items.length > 0)
      expect(replayed!.chatEvents).toMatchObject({ message: { photo: { id: photo.id } } })
    } finally {
      await client.dispose()
    }
  })
})

describe('hostile uploads: decoding is bounded', () => {
  let app: TestApp
  beforeAll(async () => {
    app = await startTestApp()
  })
  afterAll(() => app.stop())

  it('refuses a decompression bomb from its header in well under a second, and stays responsive', { timeout: 60_000 }, async () => {
    const { commenter, chatId } = await setUp(app)
    // A real, valid PNG of 20000×20000 black pixels (400 megapixels, 1.2 GB decoded) in about 1 MB.
    const bomb = new Uint8Array(
      await sharp({ create: { width: 20000, height: 20000, channels: 3, background: 'black' }, limitInputPixels: false }).png().toBuffer(),
    )
    expect(bomb.byteLength).toBeLessThan(2 * 1024 * 1024)
    for (const bytes of [bomb, await pngDeclaring(20000, 20000)]) {
      const started = performance.now()
      const refused = await uploadPhoto(app.url, commenter.token, { chatId }, { bytes, name: 'bomb.png', type: 'image/png' })
      expect(performance.now() - started).toBeLessThan(1_000)
      expect(errorCode(refused)).toBe('BAD_USER_INPUT')
      expect(refused.errors?.[0]?.message).toBe('The image is larger than 40 megapixels.')
      const healthStarted = performance.now()
      expect((await fetch(`${app.url}/healthz`)).status).toBe(200)
      expect(performance.now() - healthStarted).toBeLessThan(500)
    }
    // Nothing was stored.
    expect(await readdir(path.join(app.config.dataDir, 'photos', chatId)).catch(() => [])).toEqual([])
  })

  it('scales a large photo down to a longer side of 2560, orientation applied and metadata stripped', { timeout: 60_000 }, async () => {
    const { author, commenter, chatId } = await setUp(app)
    for (const [orientation, expected] of [
      [undefined, { width: 2560, height: 1920 }],
      // EXIF orientation 6: stored 4000×3000, shown turned a quarter, i.e. 3000×4000.
      [6, { width: 1920, height: 2560 }],
    ] as const) {
      const original = await bigJpeg(4000, 3000, orientation)
      expect((await sharp(original).metadata()).exif).toBeDefined()
      const upload = await uploadPhoto(app.url, commenter.token, { chatId }, { bytes: original, name: 'big.jpg', type: 'image/jpeg' })
      expect(upload.errors).toBeUndefined()
      const photo = upload.data!.uploadPhoto
      expect(photo).toMatchObject({ contentType: 'image/jpeg', ...expected })
      const { sendMessage } = await sendPhoto(app, commenter, chatId, photo.id)
      const response = await fetch((await photoOf(app, author, chatId, sendMessage.seq))!.url!)
      expect(response.status).toBe(200)
      const bytes = new Uint8Array(await response.arrayBuffer())
      expect(bytes.byteLength).toBe(photo.byteSize)
      const metadata = await sharp(bytes).metadata()
      expect({ width: metadata.width, height: metadata.height, format: metadata.format }).toEqual({ ...expected, format: 'jpeg' })
      expect(metadata.exif).toBeUndefined()
      expect(metadata.orientation).toBeUndefined()
      expect(Buffer.from(bytes).toString('latin1')).not.toContain('SnitchCam')
    }
  })

  it('limits decodes at once, refuses past a short queue with RATE_LIMITED, and takes its pixel limit as an option', async () => {
    const images = new SharpImageProcessor({ maxConcurrent: 1, maxWaiting: 1 })
    const jpeg = await bigJpeg(3000, 2000)
    const results = await Promise.allSettled([1, 2, 3].map(() => images.sanitize(jpeg, 'image/jpeg')))
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2)
    const refused = results.find((r) => r.status === 'rejected')
    expect(refused?.status === 'rejected' && refused.reason).toBeInstanceOf(DomainError)
    expect(refused?.status === 'rejected' && (refused.reason as DomainError).code).toBe('RATE_LIMITED')
    expect(refused?.status === 'rejected' && (refused.reason as DomainError).details?.retryAfterMs).toBeGreaterThan(0)
    // The slots are given back.
    expect(await images.sanitize(jpeg, 'image/jpeg')).toMatchObject({ width: 2560, height: 1707 })

    const small = new SharpImageProcessor({ maxPixels: 1_000 })
    await expect(small.sanitize(await jpegWithGps(), 'image/jpeg')).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: 'The image is larger than 0.001 megapixels.' })
    expect(await small.sanitize(await png(), 'image/png')).toMatchObject({ width: 10, height: 20 })
  })
})

describe('photos expire with their chat', () => {
  it('stops serving at the expiry instant, and reclaims the record and the bytes', { timeout: 120_000 }, async () => {
    const app = await startTestApp({ CHAT_TTL_SECONDS: '3' })
    try {
      const { author, commenter, chatId } = await setUp(app)
      const photo = (await uploadPhoto(app.url, commenter.token, { chatId }, { bytes: await png(), name: 'a.png', type: 'image/png' })).data!.uploadPhoto
      const { sendMessage } = await sendPhoto(app, commenter, chatId, photo.id)
      const seen = await photoOf(app, author, chatId, sendMessage.seq)
      expect((await fetch(seen!.url!)).status).toBe(200)
      expect(Date.parse(seen!.expiresAt)).toBeGreaterThan(Date.now())
      await sleep(Date.parse(seen!.expiresAt) - Date.now() + 50)
      expect((await fetch(seen!.url!)).status).toBe(404)
      const file = path.join(app.config.dataDir, 'photos', chatId, photo.id)
      const deadline = Date.now() + 60_000
      let recordsLeft = await itemsMentioning(app, photo.id)
      let fileLeft = true
      while ((recordsLeft.length > 0 || fileLeft) && Date.now() < deadline) {
        await sleep(1_000)
        recordsLeft = await itemsMentioning(app, photo.id)
        fileLeft = await readFile(file).then(() => true, () => false)
      }
      expect(recordsLeft).toEqual([])
      expect(fileLeft).toBe(false)
    } finally {
      await app.stop()
    }
  })
})

describe('photos in S3 (s3rver, a real S3-compatible server)', () => {
  let s3: S3rver
  let app: TestApp
  const bucket = 'hush-photos'
  beforeAll(async () => {
    const port = await freePort()
    s3 = new S3rver({ port, address: '127.0.0.1', silent: true, directory: path.join(os.tmpdir(), `s3rver-${randomUUID()}`), configureBuckets: [{ name: bucket, configs: [] }] })
    await s3.run()
    app = await startTestApp({
      CHAT_TTL_SECONDS: '4',
      S3_BUCKET: bucket,
      S3_ENDPOINT: `http://127.0.0.1:${port}`,
      S3_FORCE_PATH_STYLE: 'true',
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY_ID: 'S3RVER',
      S3_SECRET_ACCESS_KEY: 'S3RVER',
      S3_LIFECYCLE: 'false',
    })
  })
  afterAll(async () => {
    await app.stop()
    await s3.close()
  })

  it('stores bytes in the bucket, serves presigned GETs and view-once through Hush, and deletes them with the chat', async () => {
    const { author, commenter, chatId } = await setUp(app)
    const original = await jpegWithGps()
    const photo = (await uploadPhoto(app.url, commenter.token, { chatId }, { bytes: original, name: 'a.jpg', type: 'image/jpeg' })).data!.uploadPhoto
    const once = (await uploadPhoto(app.url, commenter.token, { chatId, viewOnce: true }, { bytes: await png(), name: 'b.png', type: 'image/png' })).data!.uploadPhoto
    const first = (await sendPhoto(app, commenter, chatId, photo.id)).sendMessage
    const second = (await sendPhoto(app, commenter, chatId, once.id)).sendMessage
    const seen = await photoOf(app, author, chatId, first.seq)
    expect(new URL(seen!.url!).searchParams.get('X-Amz-Signature')).toBeTruthy()
    const direct = await fetch(seen!.url!)
    expect(direct.status).toBe(200)
    const bytes = new Uint8Array(await direct.arrayBuffer())
    expect((await sharp(bytes).metadata()).exif).toBeUndefined()
    const onceUrl = (await photoOf(app, author, chatId, second.seq))!.url!
    expect(onceUrl.startsWith(app.url)).toBe(true)
    const [a, b] = await Promise.all([fetch(onceUrl), fetch(onceUrl)])
    expect([a.status, b.status].sort()).toEqual([200, 404])

    const { S3Client, ListObjectsV2Command } = await import('@aws-sdk/client-s3')
    const client = new S3Client({ region: 'us-east-1', endpoint: app.config.photos.s3!.endpoint, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } })
    const keys = async () => ((await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${chatId}/` }))).Contents ?? []).map((o) => o.Key)
    expect(await keys()).toEqual([`${chatId}/${photo.id}`])
    // After the chat expires, the stream cascade deletes the chat's objects.
    const deadline = Date.now() + 60_000
    while ((await keys()).length > 0 && Date.now() < deadline) await sleep(1_000)
    expect(await keys()).toEqual([])
    client.destroy()
  }, 120_000)
})
