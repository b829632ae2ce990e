import { rm } from 'node:fs/promises'
import path from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestApp, type TestApp } from './support/app.js'
import { buildWebApp, launchChromium, messageTexts, openUser, pngOf, type UserPage } from './support/web-app.js'

/**
 * The web chat (web/, served at `/`) in headless Chromium, two browser contexts as two anonymous
 * users, A and B, through one whole conversation: A posts, B starts a chat about it, they write
 * both ways, live, with typing, presence, delivered and read marks and the time left; A reloads
 * mid-conversation and loses nothing; A sends a view-once photo that B opens once; B leaves.
 * The steps depend on each other and run in order. Fails, never skips, without chromium.
 */
describe('the web chat in a browser', () => {
  let webDir: string
  let app: TestApp
  let browser: Browser
  let a: UserPage
  let b: UserPage
  let postBody: string

  beforeAll(async () => {
    webDir = await buildWebApp()
    ;[app, browser] = await Promise.all([startTestApp({ WEB_APP_DIR: webDir }), launchChromium()])
  })

  afterAll(async () => {
    await browser?.close()
    await app?.stop()
    if (webDir) await rm(webDir, { recursive: true, force: true })
  })

  it('serves the app at / under a strict Content-Security-Policy, assets cached for good', async () => {
    const index = await fetch(`${app.url}/`)
    expect(index.status).toBe(200)
    expect(index.headers.get('content-type')).toMatch(/^text\/html/)
    expect(index.headers.get('cache-control')).toBe('no-cache')
    const policy = index.headers.get('content-security-policy') ?? ''
    expect(policy).toContain("default-src 'none'")
    expect(policy).toContain("script-src 'self'")
    expect(policy).toContain("connect-src 'self'")
    const html = await index.text()
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//)
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1]
    expect(script).toBeDefined()
    const asset = await fetch(`${app.url}${script}`)
    expect(asset.status).toBe(200)
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    // The API's own paths are untouched.
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200)
    expect((await fetch(`${app.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' })).status).toBe(200)
    expect((await fetch(`${app.url}/nothing-here.js`)).status).toBe(404)
  })

  it('signs each browser up as its own anonymous user; A posts, B finds the post and starts a chat', async () => {
    a = await openUser(browser, `${app.url}/`)
    b = await openUser(browser, `${app.url}/`)
    postBody = `I have never seen the sea ${Date.now()}`
    await a.page.getByLabel('Share a secret').fill(postBody)
    await a.page.getByRole('button', { name: 'Post' }).click()
    await expect.poll(() => a.page.locator('.secret').textContent()).toBe(postBody)
    await a.page.getByText('your post').waitFor()
    const [tokenA, tokenB] = await Promise.all([a.page, b.page].map((page) => page.evaluate(() => localStorage.getItem('hush:token'))))
    expect(tokenA).toBeTruthy()
    expect(tokenB).toBeTruthy()
    expect(tokenA).not.toBe(tokenB)

    await b.page.getByRole('button', { name: 'Refresh' }).click()
    await b.page.getByRole('link', { name: postBody }).click()
    await b.page.getByRole('button', { name: 'Chat with the author' }).click()
    await b.page.locator('.chat-head h1').waitFor()
    expect(await b.page.locator('.chat-head h1').textContent()).toMatch(/^[A-Z][a-z]+ [A-Z][a-z]+ author of the post$/)
    expect(await b.page.getByTestId('time-left').textContent()).toMatch(/^disappears in 2[34] h \d\d min$/)
    expect(await b.page.getByTestId('presence').textContent()).toBe('away')
  })

  it('exchanges messages both ways, live, with typing, presence, and delivered then read marks', async () => {
    // A learns of the chat from its notifications, on the Chats link, and opens it from the list.
    await a.page.getByRole('link', { name: /Chats 1 new/ }).waitFor()
    await a.page.getByRole('link', { name: /Chats/ }).click()
    await a.page.locator('.chat-item a').first().click()
    await a.page.locator('.chat-head h1').waitFor()
    const aliasOfB = (await a.page.locator('.chat-head h1').textContent())!.replace(/ commenter$/, '')
    const aliasOfA = (await b.page.locator('.chat-head h1').textContent())!.replace(/ author of the post$/, '')
    expect(aliasOfB).toMatch(/^[A-Z][a-z]+ [A-Z][a-z]+$/)
    await expectText(a.page.getByTestId('presence'), 'here now')
    await expectText(b.page.getByTestId('presence'), 'here now')

    await b.page.getByLabel('Message').pressSequentially('hel')
    await expectText(a.page.getByTestId('typing'), `${aliasOfB} is typing…`)
    await b.page.getByLabel('Message').pressSequentially('lo A')
    await b.page.getByLabel('Message').press('Enter')
    await expect.poll(() => messageTexts(a.page)).toEqual(['hello A'])
    await expectText(a.page.getByTestId('typing'), ' ')
    await expectText(b.page.locator('.message.mine .mark'), 'read')

    // A looks elsewhere (another tab): B's next message is delivered, and read only when A is back.
    await setVisible(a.page, false)
    await sendFrom(b.page, 'are you there?')
    await expect.poll(() => messageTexts(a.page)).toEqual(['hello A', 'are you there?'])
    await expectText(b.page.locator('.message.mine .mark').last(), 'delivered')
    await setVisible(a.page, true)
    await expectText(b.page.locator('.message.mine .mark').last(), 'read')

    await sendFrom(a.page, `yes, I am here, ${aliasOfB}`)
    await expect.poll(() => messageTexts(b.page)).toEqual(['hello A', 'are you there?', `yes, I am here, ${aliasOfB}`])
    await expectText(a.page.locator('.message.mine .mark'), 'read')
    expect(await b.page.locator('.message .who').allTextContents()).toEqual(['You', 'You', aliasOfA])
  })

  it('loses nothing when A reloads in the middle of the conversation', async () => {
    const before = await messageTexts(a.page)
    const reload = a.page.reload()
    // Sent while A's page is gone or still loading.
    await sendFrom(b.page, 'one while you were away')
    await sendFrom(b.page, 'and two')
    await reload
    const expected = [...before, 'one while you were away', 'and two']
    await expect.poll(() => messageTexts(a.page)).toEqual(expected)
    await sendFrom(b.page, 'and three, live again')
    await expect.poll(() => messageTexts(a.page)).toEqual([...expected, 'and three, live again'])
    // Still A (the same token), still in the chat: A's own message is A's.
    expect(await a.page.locator('.message.mine .body').allTextContents()).toEqual([before[2]])
    expect(new Set(await a.page.locator('.message').evaluateAll((items) => items.map((item) => item.getAttribute('data-seq')))).size).toBe(expected.length + 1)
  })

  it('shows a photo inline, and a view-once photo to its recipient once; its sender never gets its URL', async () => {
    await b.page.locator('input[type=file]').setInputFiles({ name: 'plain.png', mimeType: 'image/png', buffer: await pngOf(80, 60, '#2a7') })
    await a.page.locator('img.photo').waitFor()
    await expect.poll(() => a.page.locator('img.photo').evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(80)

    await a.page.getByLabel('view once').check()
    await a.page.locator('input[type=file]').setInputFiles({ name: 'once.png', mimeType: 'image/png', buffer: await pngOf(64, 48, '#c33') })
    await a.page.getByText('View-once photo: it can be opened once.').waitFor()
    await b.page.getByRole('button', { name: 'Open view-once photo' }).click()
    const shown = b.page.locator('.view-once img')
    await expect.poll(() => shown.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(64)
    await b.page.getByRole('button', { name: 'Close it for good' }).click()
    await b.page.getByText('View-once photo, opened. It is gone.').waitFor()

    // Photo URLs are /photos/<chat>/<photo>?<ticket>: B's URLs of any photo but the plain one.
    const photoOf = (url: string) => /\/photos\/[^/]+\/([^?]+)/.exec(url)?.[1]
    const plainPhoto = photoOf((await a.page.locator('img.photo').getAttribute('src'))!)
    expect(plainPhoto).toBeDefined()
    const viewOnceUrls = b.urls.filter((url) => photoOf(url) !== undefined && photoOf(url) !== plainPhoto)
    expect(viewOnceUrls).toHaveLength(1)
    expect((await fetch(viewOnceUrls[0]!)).status).toBe(404)
    // A's page asked for B's plain photo and nothing else: no URL of its own view-once photo.
    expect(a.urls.filter((url) => photoOf(url) !== undefined).map(photoOf)).toEqual([plainPhoto])
    await b.page.reload()
    await b.page.getByText('View-once photo, opened. It is gone.').waitFor()
    expect(await b.page.getByRole('button', { name: 'Open view-once photo' }).count()).toBe(0)
  })

  it('closes the chat on both sides when B leaves', async () => {
    await b.page.getByRole('button', { name: 'Leave chat' }).click()
    await b.page.getByRole('button', { name: 'Yes, leave' }).click()
    await b.page.getByText('You left this chat. No more messages can be sent.').waitFor()
    await a.page.getByText(/^[A-Z][a-z]+ [A-Z][a-z]+ left the chat\. No more messages can be sent\.$/).waitFor()
    for (const { page } of [a, b]) {
      expect(await page.getByLabel('Message').count()).toBe(0)
      expect(await page.getByTestId('time-left').textContent()).toBe('closed')
    }
  })

  it('asked nothing of any other origin, and broke no rule of its policy', () => {
    const origin = new URL(app.url)
    for (const { urls, problems } of [a, b]) {
      expect(problems).toEqual([])
      expect(urls.length).toBeGreaterThan(5)
      for (const url of urls) expect(new URL(url).host).toBe(origin.host)
    }
  })
})

describe('the web chat on a server that runs only trusted documents', () => {
  let webDir: string
  let app: TestApp
  let browser: Browser

  beforeAll(async () => {
    webDir = await buildWebApp()
    const manifest = path.resolve(import.meta.dirname, '../client/src/generated/persisted-documents.json')
    ;[app, browser] = await Promise.all([startTestApp({ WEB_APP_DIR: webDir, TRUSTED_DOCUMENTS: manifest }), launchChromium()])
  })

  afterAll(async () => {
    await browser?.close()
    await app?.stop()
    if (webDir) await rm(webDir, { recursive: true, force: true })
  })

  it('signs up, posts, chats live and uploads a photo, its documents named by their ids', async () => {
    // The server refuses anything else: a document of one's own does not run.
    const own = await fetch(`${app.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' })
    expect((await own.json()) as unknown).toMatchObject({ errors: [{ extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } }] })
    const [a, b] = [await openUser(browser, `${app.url}/`), await openUser(browser, `${app.url}/`)]
    const body = `Trusted and anonymous ${Date.now()}`
    await a.page.getByLabel('Share a secret').fill(body)
    await a.page.getByRole('button', { name: 'Post' }).click()
    await expect.poll(() => a.page.locator('.secret').textContent()).toBe(body)
    await b.page.getByRole('button', { name: 'Refresh' }).click()
    await b.page.getByRole('link', { name: body }).click()
    await b.page.getByRole('button', { name: 'Chat with the author' }).click()
    await b.page.getByLabel('Message').fill('by id')
    await b.page.getByLabel('Message').press('Enter')
    await a.page.getByRole('link', { name: /Chats/ }).click()
    await a.page.locator('.chat-item a').first().click()
    await expect.poll(() => messageTexts(a.page)).toEqual(['by id'])
    await b.page.locator('input[type=file]').setInputFiles({ name: 'trusted.png', mimeType: 'image/png', buffer: await pngOf(40, 30, '#36c') })
    await expect.poll(() => a.page.locator('img.photo').evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(40)
    for (const { problems } of [a, b]) expect(problems).toEqual([])
  })
})

describe('the web chat switched off', () => {
  let app: TestApp

  beforeAll(async () => {
    app = await startTestApp({ WEB_APP: 'false' })
  })

  afterAll(async () => {
    await app?.stop()
  })

  it('leaves / to the API (404) and keeps /graphql and the probes', async () => {
    const index = await fetch(`${app.url}/`)
    expect(index.status).toBe(404)
    expect(index.headers.get('content-security-policy')).toBeNull()
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200)
    expect((await fetch(`${app.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' })).status).toBe(200)
  })
})

/** Waits until the locator's text is exactly `text`. */
async function expectText(locator: ReturnType<Page['locator']>, text: string): Promise<void> {
  await expect.poll(() => locator.textContent(), { timeout: 10_000 }).toBe(text)
}

async function sendFrom(page: Page, text: string): Promise<void> {
  await page.getByLabel('Message').fill(text)
  await page.getByRole('button', { name: 'Send', exact: true }).click()
}

/** What a switch to another tab does to the page: document.visibilityState, and its event. */
async function setVisible(page: Page, visible: boolean): Promise<void> {
  await page.evaluate((state) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => state })
    document.dispatchEvent(new Event('visibilitychange'))
  }, visible ? 'visible' : 'hidden')
}
