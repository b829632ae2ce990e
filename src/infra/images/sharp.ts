import { fileTypeFromBuffer } from 'file-type'
import sharp from 'sharp'
import { badInput, rateLimited } from '../../domain/errors.js'
import type { ImageProcessor, PhotoContentType, SanitizedImage } from '../../domain/ports.js'

const ACCEPTED = new Set<PhotoContentType>(['image/jpeg', 'image/png', 'image/webp', 'image/gif'])

/**
 * Images of more pixels than this (width × height, every frame of an animation counted) are
 * refused from their header, before any decode: a small file can still decode to gigabytes.
 */
export const DEFAULT_MAX_PIXELS = 40_000_000
/** A stored photo's longer side at most (a chat photo needs no more); larger ones are scaled down. */
export const DEFAULT_MAX_SIDE = 2_560
/** Decodes at once per processor (one per process); the server shares its few cores with everything else. */
export const DEFAULT_MAX_CONCURRENT = 2
/** Sanitizations that may wait for a decode slot; the next one is refused with RATE_LIMITED. */
export const DEFAULT_MAX_WAITING = 8

/** Quality of re-encoded JPEG (plain libjpeg-turbo: mozjpeg costs several times more per pixel). */
const JPEG_QUALITY = 82
const WEBP_QUALITY = 85

// Set once per process. libvips' operation cache only keeps recent results (up to 50 MB) for
// reuse, which never happens with unique uploads; each image gets one libvips worker thread, so
// two decodes at once take at most two cores.
sharp.cache(false)
sharp.concurrency(1)

export interface SharpImageProcessorOptions {
  /** Default DEFAULT_MAX_PIXELS. */
  maxPixels?: number
  /** Default DEFAULT_MAX_SIDE. */
  maxSide?: number
  /** Default DEFAULT_MAX_CONCURRENT. */
  maxConcurrent?: number
  /** Default DEFAULT_MAX_WAITING. */
  maxWaiting?: number
}

/**
 * file-type reads the magic bytes (never the name or the declared type); sharp (libvips) decodes
 * and encodes again in the same format. sharp drops all metadata unless asked to keep it, so
 * EXIF (GPS, camera), XMP, IPTC, ICC comments and embedded thumbnails do not survive; the EXIF
 * orientation is applied to the pixels first so the photo still shows the right way up.
 *
 * Decoding is bounded: the pixel count is read from the header and checked before any decode
 * (sharp's `limitInputPixels` is a second guard), photos are scaled down to `maxSide`, and at
 * most `maxConcurrent` decodes run at once with at most `maxWaiting` more queued.
 */
export class SharpImageProcessor implements ImageProcessor {
  private readonly maxPixels: number
  private readonly maxSide: number
  private readonly slots: Slots

  constructor(options: SharpImageProcessorOptions = {}) {
    this.maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS
    this.maxSide = options.maxSide ?? DEFAULT_MAX_SIDE
    this.slots = new Slots(options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT, options.maxWaiting ?? DEFAULT_MAX_WAITING)
  }

  async detect(bytes: Uint8Array): Promise<PhotoContentType | undefined> {
    const type = await fileTypeFromBuffer(bytes)
    return type && ACCEPTED.has(type.mime as PhotoContentType) ? (type.mime as PhotoContentType) : undefined
  }

  async sanitize(bytes: Uint8Array, contentType: PhotoContentType): Promise<SanitizedImage> {
    const animated = contentType === 'image/gif' || contentType === 'image/webp'
    // metadata() reads only the header. With `animated`, its height is that of every frame
    // together, as the decode below would count it.
    const { width, height } = await sharp(bytes, { animated, limitInputPixels: false }).metadata()
    if (!(width > 0 && height > 0)) throw new Error('The image header declares no size.')
    if (width * height > this.maxPixels) throw badInput(`The image is larger than ${megapixels(this.maxPixels)} megapixels.`)
    return this.slots.run(() => this.encode(bytes, contentType, animated))
  }

  private async encode(bytes: Uint8Array, contentType: PhotoContentType, animated: boolean): Promise<SanitizedImage> {
    let image = sharp(bytes, { animated, limitInputPixels: this.maxPixels })
      .autoOrient()
      // Each frame of an animation is fitted on its own. A JPEG at least twice as large is
      // shrunk while it is decoded (libjpeg's shrink-on-load), far cheaper than a full decode.
      .resize(this.maxSide, this.maxSide, { fit: 'inside', withoutEnlargement: true })
    switch (contentType) {
      case 'image/jpeg':
        image = image.jpeg({ quality: JPEG_QUALITY, mozjpeg: false })
        break
      case 'image/png':
        image = image.png()
        break
      case 'image/webp':
        image = image.webp({ quality: WEBP_QUALITY })
        break
      case 'image/gif':
        image = image.gif()
        break
    }
    const { data, info } = await image.toBuffer({ resolveWithObject: true })
    return { bytes: new Uint8Array(data), contentType, width: info.width, height: info.pageHeight ?? info.height }
  }
}

const megapixels = (pixels: number) => Number((pixels / 1_000_000).toPrecision(3))

/**
 * A counting semaphore with a bounded queue: past `maxWaiting` waiters, refuses at once, with a
 * retry hint of how long the queue ahead takes to drain at the recent decode time.
 */
class Slots {
  private active = 0
  private readonly waiting: Array<() => void> = []
  /** Moving average of a task's duration; a first guess until one has run. */
  private averageMs = 500

  constructor(
    private readonly maxActive: number,
    private readonly maxWaiting: number,
  ) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active < this.maxActive) this.active++
    else if (this.waiting.length >= this.maxWaiting) throw rateLimited(this.drainMs(), 'Too many photos are being processed; retry shortly.')
    else await new Promise<void>((resolve) => this.waiting.push(resolve))
    const started = performance.now()
    try {
      return await task()
    } finally {
      this.averageMs += (performance.now() - started - this.averageMs) / 8
      // The slot passes straight to the next waiter, if any.
      const next = this.waiting.shift()
      if (next) next()
      else this.active--
    }
  }

  /** Until the tasks running and waiting now are done, at the average pace. */
  private drainMs(): number {
    return Math.ceil((this.waiting.length + this.maxActive) / this.maxActive) * this.averageMs
  }
}
