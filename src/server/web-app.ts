import { existsSync } from 'node:fs'
import type http from 'node:http'
import path from 'node:path'
import type { Logger } from 'pino'
import sirv from 'sirv'
import type { Config } from '../config.js'

export interface WebAppOptions {
  /** The web chat's build (web/dist): index.html, and hashed files under assets/. */
  dir: string
  /** The origins photo URLs point at (this server or PUBLIC_URL, S3): the page may show images from them. */
  photoOrigins: () => string[]
}

/** Answers a request for one of the web chat's files and returns true, or returns false and leaves it alone. */
export type WebAppHandler = (req: http.IncomingMessage, res: http.ServerResponse) => boolean

/**
 * The web chat's files from its build, by sirv: `/` is index.html (revalidated every time, so a new
 * build shows at once), the hashed files under /assets/ are cached for a year. Every file carries
 * a Content-Security-Policy that lets the page load nothing but from this origin (and photos from
 * where photo URLs point), so no request of the app leaves it. Undefined, with a warning, when the
 * folder holds no build: `/` is then left to the API's 404.
 */
export function webAppHandler(options: WebAppOptions, logger: Logger): WebAppHandler | undefined {
  if (!existsSync(path.join(options.dir, 'index.html'))) {
    logger.warn({ dir: options.dir }, 'the web chat is not built (npm run build): nothing is served at /')
    return undefined
  }
  const serve = sirv(options.dir, {
    etag: true,
    setHeaders: (res, pathname) => {
      res.setHeader('cache-control', pathname.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache')
      res.setHeader('content-security-policy', contentSecurityPolicy(options.photoOrigins()))
      res.setHeader('x-content-type-options', 'nosniff')
      // Photo URLs carry their signed tickets: no page address goes to anyone with a request.
      res.setHeader('referrer-policy', 'no-referrer')
    },
  })
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false
    // sirv looks its files up in a list made at start and calls `next` synchronously on a miss.
    let served = true
    serve(req, res, () => {
      served = false
    })
    return served
  }
}

function contentSecurityPolicy(photoOrigins: string[]): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src ${["'self'", ...photoOrigins].join(' ')}`,
    // 'self' covers ws: on the same host and port, the graphql-ws socket.
    "connect-src 'self'",
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ')
}

/**
 * Where photo URLs point: this server (PUBLIC_URL, else its listen address, which may not be the
 * address a browser used), and with S3 the presigned GETs' host, path-style or virtual-hosted.
 */
export function photoOriginsOf(publicUrl: string, s3: Config['photos']['s3']): string[] {
  const origins = publicUrl ? [new URL(publicUrl).origin] : []
  if (!s3) return origins
  if (s3.endpoint === undefined) {
    origins.push(s3.forcePathStyle ? `https://s3.${s3.region}.amazonaws.com` : `https://${s3.bucket}.s3.${s3.region}.amazonaws.com`)
  } else {
    const endpoint = new URL(s3.endpoint)
    origins.push(s3.forcePathStyle ? endpoint.origin : `${endpoint.protocol}//${s3.bucket}.${endpoint.host}`)
  }
  return origins
}
