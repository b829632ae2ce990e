import type { PhotoLinks, PhotoTicket } from '../domain/ports.js'

/** Hush serves photos it keeps itself (disk, or view-once ones in S3) under this path. */
const PHOTO_PATH = '/photos'

export const isPhotoPath = (pathname: string): boolean => pathname.startsWith(`${PHOTO_PATH}/`)

/** Photo URLs of this server: `<base>/photos/<chatId>/<photoId>?v=&e=&s=`. */
export function photoLinks(baseUrl: () => string): PhotoLinks {
  return {
    urlFor: ({ chatId, photoId, viewerTag, expires, signature }) =>
      `${baseUrl()}${PHOTO_PATH}/${chatId}/${photoId}?${new URLSearchParams({ v: viewerTag, e: String(expires), s: signature })}`,
  }
}

/** The ticket a photo URL carries, or undefined for anything that is not one. */
export function parsePhotoTicket(url: URL): PhotoTicket | undefined {
  const match = /^\/photos\/([A-Za-z0-9_-]{1,64})\/([0-9A-Z]{26})$/.exec(url.pathname)
  const viewerTag = url.searchParams.get('v')
  const expires = Number(url.searchParams.get('e'))
  const signature = url.searchParams.get('s')
  if (!match || !viewerTag || !signature || !Number.isFinite(expires)) return undefined
  return { chatId: match[1]!, photoId: match[2]!, viewerTag, expires, signature }
}
