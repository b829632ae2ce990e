import { fileTypeFromBuffer } from 'file-type'
import sharp from 'sharp'
import type { ImageProcessor, PhotoContentType, SanitizedImage } from '../../domain/ports.js'

const ACCEPTED = new Set<PhotoContentType>(['image/jpeg', 'image/png', 'image/webp', 'image/gif'])
/** Larger images are refused before decoding (a small file can still decode to gigabytes). */
const MAX_PIXELS = 50_000_000

/**
 * file-type reads the magic bytes (never the name or the declared type); sharp (libvips) decodes
 * and encodes again in the same format. sharp drops all metadata unless asked to keep it, so
 * EXIF (GPS, camera), XMP, IPTC, ICC comments and embedded thumbnails do not survive; the EXIF
 * orientation is applied to the pixels first so the photo still shows the right way up.
 */
export class SharpImageProcessor implements ImageProcessor {
  async detect(bytes: Uint8Array): Promise<PhotoContentType | undefined> {
    const type = await fileTypeFromBuffer(bytes)
    return type && ACCEPTED.has(type.mime as PhotoContentType) ? (type.mime as PhotoContentType) : undefined
  }

  async sanitize(bytes: Uint8Array, contentType: PhotoContentType): Promise<SanitizedImage> {
    const animated = contentType === 'image/gif' || contentType === 'image/webp'
    let image = sharp(bytes, { animated, limitInputPixels: MAX_PIXELS }).rotate()
    switch (contentType) {
      case 'image/jpeg':
        image = image.jpeg({ quality: 85, mozjpeg: true })
        break
      case 'image/png':
        image = image.png()
        break
      case 'image/webp':
        image = image.webp({ quality: 85 })
        break
      case 'image/gif':
        image = image.gif()
        break
    }
    const { data, info } = await image.toBuffer({ resolveWithObject: true })
    return { bytes: new Uint8Array(data), contentType, width: info.width, height: info.pageHeight ?? info.height }
  }
}
