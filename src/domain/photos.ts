import { createHmac, timingSafeEqual } from 'node:crypto'
import type { ChatAccess } from './chats/chat-access.js'
import { badInput, DomainError } from './errors.js'
import { newUlid } from './ids.js'
import type { BlobStore, ChatRecord, Clock, ImageProcessor, PhotoLinks, PhotoRecord, PhotoStore, PhotoTicket, Viewer } from './ports.js'
import type { RateLimits } from './rate-limits.js'

export interface PhotoView {
  id: string
  viewOnce: boolean
  contentType: string
  byteSize: number
  width: number
  height: number
  /** Signed and short-lived; null where this viewer may not (or no longer) open the photo. */
  url: string | null
  expiresAt: Date
}

export interface PhotoServiceOptions {
  photos: PhotoStore
  blobs: BlobStore
  images: ImageProcessor
  limits: RateLimits
  access: ChatAccess
  /** The chat by id, for the photo server (which checks a signed URL instead of a viewer). */
  chatById: (chatId: string) => Promise<ChatRecord | undefined>
  clock: Clock
  /** Key of the signed photo URLs. */
  secret: string
  /** Turns a signed ticket into the URL Hush serves the photo at (a transport's business). */
  links: PhotoLinks
  maxBytes: number
  /** How long a photo URL works (SPEC: a few minutes), never past the chat's expiry. */
  urlTtlMs: number
}

/** What a signed photo URL answers: the bytes, or with `withBytes: false` only their description. */
export interface ServedPhoto {
  contentType: string
  byteSize: number
  /** Absent when asked `withBytes: false`. */
  bytes?: Uint8Array
}


/**
 * Ephemeral photos: checked by their bytes, re-encoded so no metadata survives, stored as blobs
 * under their chat, shown through short-lived signed URLs, and gone with the chat.
 */
export class PhotoService {
  constructor(private readonly deps: PhotoServiceOptions) {}

  async upload(viewer: Viewer, chatId: string, file: Blob, viewOnce: boolean): Promise<PhotoView> {
    const { chat } = await this.deps.access.require(viewer, chatId)
    if (chat.status !== 'ACTIVE') throw new DomainError('CHAT_CLOSED', 'This chat is closed.')
    if (file.size > this.deps.maxBytes) throw tooLarge(this.deps.maxBytes)
    // Decoding is the costliest thing a user can ask for: limited by count and by bytes.
    await this.deps.limits.take('upload', viewer.userId)
    await this.deps.limits.take('uploadBytes', viewer.userId, file.size)
    const original = new Uint8Array(await file.arrayBuffer())
    const contentType = await this.deps.images.detect(original)
    if (!contentType) throw badInput('The file is not a JPEG, PNG, WebP or GIF image.')
    let image
    try {
      image = await this.deps.images.sanitize(original, contentType)
    } catch (error) {
      // Refusals of the processor's own (too many pixels, too busy) say why; anything else is
      // an image libvips could not read.
      if (error instanceof DomainError) throw error
      throw badInput('The image could not be decoded.')
    }
    const now = this.deps.clock.now()
    const photo: PhotoRecord = {
      chatId,
      photoId: newUlid(now),
      uploaderId: viewer.userId,
      contentType: image.contentType,
      byteSize: image.bytes.byteLength,
      width: image.width,
      height: image.height,
      viewOnce,
      viewedAt: undefined,
      createdAt: now,
    }
    await this.deps.blobs.put(blobKey(photo), image.bytes, photo.contentType)
    await this.deps.photos.putPhoto(photo)
    return this.view(viewer, chat, photo)
  }

  /** The photo of a message as `viewer` sees it. */
  async photoOf(viewer: Viewer, chatId: string, photoId: string): Promise<PhotoView | null> {
    const found = await this.deps.access.load(viewer, chatId)
    const photo = found && (await this.deps.photos.getPhoto(chatId, photoId))
    return found && photo ? this.view(viewer, found.chat, photo) : null
  }

  /**
   * Serves a signed photo URL: only before it expires and before the chat does; a view-once
   * photo only to its recipient, only once (a conditional write picks the one request that
   * wins), after which its bytes are deleted.
   *
   * With `withBytes: false` (an HTTP HEAD: link previewers and prefetchers send them) it answers
   * from the record alone: it never claims a view-once photo, and reads and deletes no bytes.
   */
  async serve(request: PhotoTicket, { withBytes = true }: { withBytes?: boolean } = {}): Promise<ServedPhoto | undefined> {
    const now = this.deps.clock.now()
    if (!(request.expires > now) || !this.verify(request)) return undefined
    const chat = await this.deps.chatById(request.chatId)
    const photo = chat && (await this.deps.photos.getPhoto(request.chatId, request.photoId))
    if (!chat || !photo || chat.expiresAt <= now) return undefined
    if (photo.viewOnce && photo.viewedAt !== undefined) return undefined
    if (!withBytes) return { contentType: photo.contentType, byteSize: photo.byteSize }
    if (photo.viewOnce) {
      if (!(await this.deps.photos.claimView(chat.chatId, photo.photoId, now))) return undefined
      const bytes = await this.deps.blobs.get(blobKey(photo))
      await this.deps.blobs.delete(blobKey(photo))
      return bytes && { contentType: photo.contentType, byteSize: bytes.byteLength, bytes }
    }
    const bytes = await this.deps.blobs.get(blobKey(photo))
    return bytes && { contentType: photo.contentType, byteSize: bytes.byteLength, bytes }
  }

  /** True once a chat is expired or reclaimed: its photo bytes may go. */
  async isChatGone(chatId: string): Promise<boolean> {
    const chat = await this.deps.chatById(chatId)
    return !chat || chat.expiresAt <= this.deps.clock.now()
  }

  /** Deletes a reclaimed chat's photo bytes (its records go with the chat's partition). */
  async reclaimChat(chatId: string): Promise<void> {
    await this.deps.blobs.deletePrefix(chatId)
  }

  private async view(viewer: Viewer, chat: ChatRecord, photo: PhotoRecord): Promise<PhotoView> {
    return {
      id: photo.photoId,
      viewOnce: photo.viewOnce,
      contentType: photo.contentType,
      byteSize: photo.byteSize,
      width: photo.width,
      height: photo.height,
      url: await this.urlFor(viewer, chat, photo),
      expiresAt: new Date(chat.expiresAt),
    }
  }

  private async urlFor(viewer: Viewer, chat: ChatRecord, photo: PhotoRecord): Promise<string | null> {
    const now = this.deps.clock.now()
    if (chat.expiresAt <= now) return null
    // A view-once photo is for the recipient's eyes only, and only until it was opened.
    if (photo.viewOnce && (photo.uploaderId === viewer.userId || photo.viewedAt !== undefined)) return null
    const expires = Math.min(now + this.deps.urlTtlMs, chat.expiresAt)
    if (!photo.viewOnce) {
      const direct = await this.deps.blobs.directUrl(blobKey(photo), expires)
      if (direct) return direct
    }
    const ticket = { chatId: photo.chatId, photoId: photo.photoId, viewerTag: this.viewerTag(viewer.userId), expires }
    return this.deps.links.urlFor({ ...ticket, signature: this.sign(ticket) })
  }

  /** Ties a URL to its viewer without naming them: a keyed hash nobody else can link to a user. */
  private viewerTag(userId: string): string {
    return createHmac('sha256', this.deps.secret).update(`viewer\n${userId}`).digest('base64url').slice(0, 16)
  }

  private sign(request: Omit<PhotoTicket, 'signature'>): string {
    return createHmac('sha256', this.deps.secret)
      .update(['photo', request.chatId, request.photoId, request.viewerTag, String(request.expires)].join('\n'))
      .digest('base64url')
  }

  private verify(request: PhotoTicket): boolean {
    const expected = Buffer.from(this.sign(request))
    const given = Buffer.from(request.signature)
    return expected.length === given.length && timingSafeEqual(expected, given)
  }
}

const blobKey = (photo: Pick<PhotoRecord, 'chatId' | 'photoId'>) => `${photo.chatId}/${photo.photoId}`

export const tooLarge = (maxBytes: number) =>
  new DomainError('PAYLOAD_TOO_LARGE', `A photo may be at most ${Math.floor(maxBytes / (1024 * 1024))} MB.`)
