import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CreatePostDocument, StartChatDocument } from './generated/graphql.js'
import { startTestApp, type TestApp } from './support/app.js'
import { launchChromium } from './support/chromium.js'
import { mustRequest, signUp } from './support/client.js'

/**
 * GraphiQL in a real browser (Debian's chromium, driven by playwright-core): the page works with
 * nothing but Hush's own origin, and a user can sign up, authenticate and watch a subscription.
 * Without chromium this fails (CI installs it) rather than skipping.
 */

let browser: Browser

beforeAll(async () => {
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
})

/** A page that records every URL it (or a worker of it) asks for, and every CSP violation or error. */
async function openPage(context: BrowserContext): Promise<{ page: Page; urls: string[]; frames: string[]; problems: string[] }> {
  const urls: string[] = []
  const frames: string[] = []
  const problems: string[] = []
  context.on('request', (request) => urls.push(request.url()))
  const page = await context.newPage()
  page.on('websocket', (socket) => {
    urls.push(socket.url())
    socket.on('framesent', ({ payload }) => frames.push(String(payload)))
  })
  page.on('worker', (worker) => urls.push(worker.url()))
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  page.on('console', (message) => {
    if (/content security policy/i.test(message.text())) problems.push(`CSP: ${message.text()}`)
  })
  return { page, urls, frames, problems }
}

/** Monaco renders a space as U+00A0. */
const visibleText = async (page: Page, selector: string) => ((await page.locator(selector).textContent()) ?? '').replace(/\u00a0/g, ' ')

/** Replaces an editor's content the way a user does: click into it, select all, type. */
async function typeInto(page: Page, editor: string, text: string): Promise<void> {
  await page.locator(`${editor} .monaco-editor .view-lines`).click()
  await page.keyboard.press('ControlOrMeta+A')
  await page.keyboard.press('Delete')
  // insertText types the whole string as one input, so Monaco does not auto-close the brackets.
  await page.keyboard.insertText(text)
}

const QUERY_EDITOR = '.graphiql-query-editor'
const HEADERS_EDITOR = '.graphiql-editor-tool[aria-label="Headers"] .graphiql-editor:not(.hidden)'
const RESPONSE = '.graphiql-response'

describe('GraphiQL in a browser', () => {
  let app: TestApp

  beforeAll(async () => {
    app = await startTestApp()
  })

  afterAll(async () => {
    await app?.stop()
  })

  it('serves a page that names no other origin, under a strict Content-Security-Policy', async () => {
    const response = await fetch(`${app.url}/graphql`, { headers: { accept: 'text/html' } })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/html/)
    const html = await response.text()
    expect(html).toContain('<title>Hush</title>')
    expect(html).toContain('"subscriptionsProtocol":"WS"')
    // No element, style or stylesheet pointing to an absolute or protocol-relative address.
    expect(html.match(/(?:src|href|action)\s*=\s*["']?(?:[a-z][\w+.-]*:)?\/\//gi) ?? []).toEqual([])
    expect(html.match(/url\(\s*["']?(?:[a-z][\w+.-]*:)?\/\//gi) ?? []).toEqual([])
    expect(html).not.toMatch(/@import|unpkg\.com|jsdelivr|cdnjs|googleapis|gstatic/i)
    const policy = response.headers.get('content-security-policy') ?? ''
    expect(policy).toContain("default-src 'self'")
    expect(policy).toMatch(/script-src 'sha256-[\w+/]+=*'(;|$)/)
    expect(policy).toContain("connect-src 'self'")
  })

  it('loads from Hush alone, signs up, authenticates and shows a live notification', async () => {
    const context = await browser.newContext()
    try {
      const { page, urls, frames, problems } = await openPage(context)
      const response = await page.goto(`${app.url}/graphql`)
      expect(response?.status()).toBe(200)
      expect(response?.headers()['content-type']).toMatch(/^text\/html/)
      expect(response?.headers()['content-security-policy']).toContain("default-src 'self'")
      await page.locator(`${QUERY_EDITOR} .monaco-editor`).waitFor()

      // Sign up from the operation editor and read the token from the response pane.
      const signUpQuery = 'mutation { signUp { token } }'
      await typeInto(page, QUERY_EDITOR, signUpQuery)
      // GraphiQL mirrors the editor into the address (?query=): what was typed is what runs.
      await expect.poll(() => new URL(page.url()).searchParams.get('query')).toBe(signUpQuery)
      const answered = page.waitForResponse((response) => response.request().method() === 'POST' && response.url() === `${app.url}/graphql`)
      await page.locator('.graphiql-execute-button').click()
      await expect.poll(() => visibleText(page, RESPONSE)).toMatch(/"token": "[^"]+"/)
      // Monaco wraps the long token over several lines, each indented: a JWT has no white space.
      const token = /"token": "([^"]+)"/.exec(await visibleText(page, RESPONSE))?.[1]?.replace(/\s+/g, '') ?? ''
      expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
      // What the pane shows is what the server answered.
      expect(((await (await answered).json()) as { data: { signUp: { token: string } } }).data.signUp.token).toBe(token)

      // The token as a header: Hush's page sends the headers editor as graphql-ws's connection_init payload.
      await page.getByRole('button', { name: 'Headers' }).click()
      await typeInto(page, HEADERS_EDITOR, JSON.stringify({ Authorization: `Bearer ${token}` }))
      await typeInto(page, QUERY_EDITOR, 'subscription { notifications { __typename ... on ChatStartedNotification { chatId } } }')
      await page.locator('.graphiql-execute-button').click()
      await expect.poll(() => frames.some((frame) => frame.includes('"subscribe"')), { timeout: 5000 }).toBe(true)

      // Another client answers a post of this user: a chat starts, and GraphiQL shows it live.
      const post = (await mustRequest(app.url, CreatePostDocument, { body: 'Hello from GraphiQL' }, token)).createPost
      const chatIds: string[] = []
      const shown = () => visibleText(page, RESPONSE).then((text) => chatIds.some((id) => text.includes(`"chatId": "${id}"`)))
      // The subscribe frame is sent before the server listens: a chat started in between is not
      // notified, so another starts until one shows.
      for (let attempt = 0; attempt < 10 && !(await shown()); attempt++) {
        const other = await signUp(app.url)
        chatIds.push((await mustRequest(app.url, StartChatDocument, { postId: post.id }, other.token)).startChat.id)
        await expect.poll(shown, { timeout: attempt === 0 ? 1000 : 2000 }).toBe(true).catch(() => undefined)
      }
      expect(await shown()).toBe(true)
      expect(await visibleText(page, RESPONSE)).toContain('"__typename": "ChatStartedNotification"')

      // After a reload GraphiQL shows the headers it kept, unedited: the socket still carries them.
      await page.reload()
      await page.locator(`${QUERY_EDITOR} .monaco-editor`).waitFor()
      await page.locator('.graphiql-execute-button').click()
      const authenticated = () => frames.filter((frame) => frame.includes('"connection_init"') && frame.includes(`Bearer ${token}`)).length
      await expect.poll(authenticated, { timeout: 5000 }).toBe(2)

      // Nothing but this server: the page, its API calls and its WebSocket.
      const origin = new URL(app.url)
      expect(urls.length).toBeGreaterThan(1)
      const foreign = urls.filter((url) => {
        const parsed = new URL(url)
        const target = parsed.protocol === 'blob:' ? new URL(parsed.pathname) : parsed
        return !['http:', 'ws:'].includes(target.protocol) || target.host !== origin.host
      })
      expect(foreign).toEqual([])
      expect(urls).toContain(`ws://${origin.host}/graphql`)
      expect(problems).toEqual([])
      // Monaco's language workers run (from blobs) under the page's policy.
      expect(page.workers().length).toBeGreaterThan(0)
    } finally {
      await context.close()
    }
  })
})

describe('GraphiQL switched off', () => {
  let app: TestApp

  beforeAll(async () => {
    app = await startTestApp({ GRAPHIQL: 'false' })
  })

  afterAll(async () => {
    await app?.stop()
  })

  it('gives a browser navigation to /graphql no GraphiQL page', async () => {
    const context = await browser.newContext()
    try {
      const page = await context.newPage()
      const response = await page.goto(`${app.url}/graphql`)
      expect(response?.headers()['content-type']).not.toMatch(/html/)
      expect(await response?.text()).not.toMatch(/graphiql/i)
      expect(await page.locator('.graphiql-container').count()).toBe(0)
    } finally {
      await context.close()
    }
  })
})
