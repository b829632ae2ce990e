import { unauthenticated } from './errors.js'
import { newUlid } from './ids.js'
import type { AccountStore, Clock, TokenService, Viewer } from './ports.js'
import type { RateLimits } from './rate-limits.js'

export interface SignUpResult {
  token: string
  viewer: Viewer
}

export class AccountService {
  constructor(
    private readonly deps: { accounts: AccountStore; tokens: TokenService; clock: Clock; limits: RateLimits },
  ) {}

  /**
   * A new account and its token. Limited per client address: every other limit is per user, and
   * an unlimited signUp would undo them all (and any block) by signing up again.
   */
  async signUp(clientAddress: string): Promise<SignUpResult> {
    await this.deps.limits.take('signUp', clientAddress)
    const userId = `u_${newUlid(this.deps.clock.now())}`
    await this.deps.accounts.create({ userId, createdAt: this.deps.clock.now() })
    const token = await this.deps.tokens.issue(userId)
    const viewer = await this.deps.tokens.verify(token)
    if (!viewer) throw new Error('a freshly issued token did not verify')
    return { token, viewer }
  }

  /**
   * The viewer behind an `Authorization` value ("Bearer <token>"); undefined when it is missing
   * or invalid. Callers decide whether anonymity is allowed (only signUp allows it).
   */
  async authenticate(authorization: string | null | undefined): Promise<Viewer | undefined> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')
    if (!match) return undefined
    return this.deps.tokens.verify(match[1]!)
  }
}

/** The viewer, or UNAUTHENTICATED: every operation but signUp goes through this. */
export function requireViewer(viewer: Viewer | undefined): Viewer {
  if (!viewer) throw unauthenticated()
  return viewer
}
