import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SignUpDocument, ViewerDocument } from './generated/graphql.js'
import { startTestApp, TEST_JWT_SECRET, type TestApp } from './support/app.js'
import { errorCode, request, signUp } from './support/client.js'

describe('accounts and tokens', () => {
  let app: TestApp
  beforeAll(async () => {
    app = await startTestApp()
  })
  afterAll(() => app.stop())

  it('signUp returns a token that identifies the new user to viewer', async () => {
    const first = await request(app.url, SignUpDocument)
    expect(first.errors).toBeUndefined()
    const { token, viewer } = first.data!.signUp
    expect(token.split('.')).toHaveLength(3)
    expect(viewer.id).toMatch(/^u_/)
    const me = await request(app.url, ViewerDocument, {}, token)
    expect(me.data?.viewer.id).toBe(viewer.id)
    const other = await signUp(app.url)
    expect(other.id).not.toBe(viewer.id)
  })

  it('answers UNAUTHENTICATED without a token and with a bad, tampered, foreign, expired or unsigned one', async () => {
    const user = await signUp(app.url)
    const key = new TextEncoder().encode(TEST_JWT_SECRET)
    const [header, payload, signature] = user.token.split('.')
    const tampered = `${header}.${Buffer.from(JSON.stringify({ sub: 'u_someone_else', iss: 'hush', aud: 'hush', exp: 9999999999 })).toString('base64url')}.${signature}`
    const foreign = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(user.id).setIssuer('hush').setAudience('hush')
      .setExpirationTime('1h').sign(new TextEncoder().encode('another-secret-of-at-least-32-characters'))
    const expired = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(user.id).setIssuer('hush').setAudience('hush')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 10).sign(key)
    const wrongAudience = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(user.id).setIssuer('hush').setAudience('other')
      .setExpirationTime('1h').sign(key)
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`
    for (const token of [undefined, 'garbage', tampered, foreign, expired, wrongAudience, unsigned]) {
      const response = await request(app.url, ViewerDocument, {}, token)
      expect(errorCode(response), `token ${token}`).toBe('UNAUTHENTICATED')
      expect(response.data).toBeNull()
    }
  })
})

describe('tokens of an outside issuer', () => {
  let app: TestApp
  let jwks: http.Server
  let privateKey: CryptoKey
  const issuer = 'https://id.example.test/'
  const audience = 'hush-app'

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true })
    privateKey = pair.privateKey
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }
    jwks = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ keys: [jwk] }))
    })
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve))
    const { port } = jwks.address() as AddressInfo
    app = await startTestApp({
      JWT_JWKS_URL: `http://127.0.0.1:${port}/jwks.json`,
      JWT_EXTERNAL_ISSUER: issuer,
      JWT_EXTERNAL_AUDIENCE: audience,
    })
  })
  afterAll(async () => {
    await app.stop()
    jwks.close()
  })

  const external = (claims: { aud?: string; alg?: string; exp?: string } = {}) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setSubject('auth0|12345')
      .setIssuer(issuer)
      .setAudience(claims.aud ?? audience)
      .setExpirationTime(claims.exp ?? '1h')
      .sign(privateKey)

  it('accepts a token signed by the JWKS key with the configured issuer and audience', async () => {
    const response = await request(app.url, ViewerDocument, {}, await external())
    expect(response.errors).toBeUndefined()
    // A stable id of its own, not the outside subject.
    expect(response.data?.viewer.id).toMatch(/^x_/)
    const again = await request(app.url, ViewerDocument, {}, await external())
    expect(again.data?.viewer.id).toBe(response.data?.viewer.id)
  })

  it('refuses the wrong audience, and an HMAC token keyed with the issuer name (algorithm pinning)', async () => {
    const wrongAudience = await request(app.url, ViewerDocument, {}, await external({ aud: 'someone-else' }))
    expect(errorCode(wrongAudience)).toBe('UNAUTHENTICATED')
    const confused = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('auth0|12345').setIssuer(issuer)
      .setAudience(audience).setExpirationTime('1h').sign(new TextEncoder().encode('x'.repeat(32)))
    expect(errorCode(await request(app.url, ViewerDocument, {}, confused))).toBe('UNAUTHENTICATED')
  })
})
