import { createHash, createSecretKey, type KeyObject } from 'node:crypto'
import { createRemoteJWKSet, decodeJwt, jwtVerify, SignJWT, type JWTPayload } from 'jose'
import { BoundedCache } from '../../domain/bounded-cache.js'
import type { TokenService, Viewer } from '../../domain/ports.js'

/** An outside identity provider whose tokens are accepted too. */
export interface ExternalIssuer {
  jwksUrl: string
  issuer: string
  audience: string
  /** Accepted signing algorithms (pinned: a token cannot pick its own). */
  algorithms: string[]
}

export interface JwtTokenServiceOptions {
  /** HS256 key of the tokens this server issues. */
  secret: string
  issuer: string
  audience: string
  ttlSeconds: number
  /** Also accept tokens of an outside identity provider, checked against its JWKS. */
  external?: ExternalIssuer | undefined
  /** Milliseconds of a monotonic clock, for the verified-token cache (tests); default performance.now. */
  now?: () => number
}

const VERIFIED_TOKENS_MAX = 50_000
/** A verified token unused this long is verified again when it comes back. */
const VERIFIED_IDLE_MS = 10 * 60_000
/** Tokens idle past VERIFIED_IDLE_MS are dropped at most this long after (a scan of the cache). */
const SWEEP_EVERY_MS = 60_000

/**
 * Issues HS256 tokens for signUp and verifies them, and optionally verifies tokens of an outside
 * issuer. Algorithms are pinned on both paths so a token cannot pick its own ("alg: none", or an
 * HMAC keyed with a public key).
 */
export class JwtTokenService implements TokenService {
  /** A KeyObject, so that jose does not import the raw secret again on every call. */
  private readonly key: KeyObject
  private readonly jwks: ReturnType<typeof createRemoteJWKSet> | undefined
  /**
   * Tokens already verified, by a digest of their exact text: a client presents the same token
   * on every request, and a signature check costs far more than the request it guards. The
   * digest, not the token, is kept: a token arrives as a slice of its header, which the key would
   * keep alive (about 300 bytes per user). Bounded, and forgotten after VERIFIED_IDLE_MS unused,
   * so a process holds the tokens of the users who are around, not of everyone ever seen; an
   * entry is only used before its `exp`.
   */
  private readonly verified: BoundedCache<string, Viewer>

  constructor(private readonly options: JwtTokenServiceOptions) {
    const now = options.now ?? (() => performance.now())
    this.verified = new BoundedCache({ maxEntries: VERIFIED_TOKENS_MAX, now, ttlMs: VERIFIED_IDLE_MS, renewOnGet: true, sweepEveryMs: SWEEP_EVERY_MS })
    this.key = createSecretKey(Buffer.from(options.secret, 'utf8'))
    this.jwks = options.external ? createRemoteJWKSet(new URL(options.external.jwksUrl)) : undefined
  }

  async issue(userId: string): Promise<string> {
    return new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(userId)
      .setIssuer(this.options.issuer)
      .setAudience(this.options.audience)
      .setIssuedAt()
      .setExpirationTime(`${this.options.ttlSeconds}s`)
      .sign(this.key)
  }

  async verify(token: string): Promise<Viewer | undefined> {
    const digest = createHash('sha256').update(token).digest('base64url')
    const known = this.verified.get(digest)
    if (known) {
      if (known.expiresAt * 1000 > Date.now()) return known
      this.verified.delete(digest)
      return undefined
    }
    const viewer = await this.verifySignature(token)
    if (viewer) this.verified.set(digest, viewer)
    return viewer
  }

  /** Tokens this process remembers as verified. */
  get verifiedTokens(): number {
    return this.verified.size
  }

  private async verifySignature(token: string): Promise<Viewer | undefined> {
    let claims: JWTPayload
    try {
      claims = decodeJwt(token)
    } catch {
      return undefined
    }
    try {
      if (claims.iss === this.options.issuer) {
        const { payload } = await jwtVerify(token, this.key, {
          issuer: this.options.issuer,
          audience: this.options.audience,
          algorithms: ['HS256'],
          requiredClaims: ['sub', 'exp'],
        })
        return { userId: payload.sub!, expiresAt: payload.exp! }
      }
      const external = this.options.external
      if (external && this.jwks && claims.iss === external.issuer) {
        const { payload } = await jwtVerify(token, this.jwks, {
          issuer: external.issuer,
          audience: external.audience,
          algorithms: external.algorithms,
          requiredClaims: ['sub', 'exp'],
        })
        return { userId: externalUserId(external.issuer, payload.sub!), expiresAt: payload.exp! }
      }
    } catch {
      return undefined
    }
    return undefined
  }
}

/** Outside subjects get an id of their own shape, so they can never collide with a local one. */
function externalUserId(issuer: string, subject: string): string {
  return `x_${createHash('sha256').update(`${issuer}\n${subject}`).digest('base64url').slice(0, 32)}`
}
