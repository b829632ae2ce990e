import { describe, expect, it } from 'vitest'
import { JwtTokenService } from '../../src/infra/auth/tokens.js'

describe('verified tokens kept by a process', () => {
  it('forgets a token unused for ten minutes, and verifies it again when it comes back', async () => {
    let now = 0
    const tokens = new JwtTokenService({ secret: 's'.repeat(32), issuer: 'hush', audience: 'hush', ttlSeconds: 3_600, now: () => now })
    const [first, second] = await Promise.all([tokens.issue('u_1'), tokens.issue('u_2')])
    expect((await tokens.verify(first))?.userId).toBe('u_1')
    expect(tokens.verifiedTokens).toBe(1)

    // Used within the ten minutes: kept, and its idle time starts again.
    now += 9 * 60_000
    expect((await tokens.verify(first))?.userId).toBe('u_1')
    now += 9 * 60_000
    expect((await tokens.verify(second))?.userId).toBe('u_2')
    expect(tokens.verifiedTokens).toBe(2)

    // Eleven idle minutes later the next verification scans out the first token.
    now += 11 * 60_000
    expect((await tokens.verify(second))?.userId).toBe('u_2')
    expect((await tokens.verify(await tokens.issue('u_3')))?.userId).toBe('u_3')
    expect(tokens.verifiedTokens).toBe(2)
    expect((await tokens.verify(first))?.userId).toBe('u_1')
    expect(tokens.verifiedTokens).toBe(3)
    expect(await tokens.verify(`${first}x`)).toBeUndefined()
  })
})
