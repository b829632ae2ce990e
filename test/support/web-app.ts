import { mkdtemp } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import sharp from 'sharp'
import { build } from 'vite'

/**
 * The web chat in a real browser, for tests and the screenshots script: a fresh build of web/
 * (so no earlier `npm run build` is needed), Debian's chromium, and pages that record what they
 * ask for.
 */

/** Builds web/ with its own vite.config.ts into a new temporary folder; returns the folder. */
export async function buildWebApp(): Promise<string> {
  const outDir = await mkdtemp(path.join(os.tmpdir(), 'hush-web-'))
  await build({ configFile: path.resolve(import.meta.dirname, '../../web/vite.config.ts'), build: { outDir }, logLevel: 'error' })
  return outDir
}

export { launchChromium } from './chromium.js'

/** A page of its own browser context (its own localStorage, so its own anonymous user). */
export interface UserPage {
  page: Page
  context: BrowserContext
  /** Every URL the page (or a socket of it) asked for. */
  urls: string[]
  /** Page errors and Content-Security-Policy violations. */
  problems: string[]
}

export async function openUser(browser: Browser, url: string): Promise<UserPage> {
  const context = await browser.newContext({ viewport: { width: 760, height: 900 } })
  const urls: string[] = []
  const problems: string[] = []
  context.on('request', (request) => urls.push(request.url()))
  const page = await context.newPage()
  page.on('websocket', (socket) => urls.push(socket.url()))
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  page.on('console', (message) => {
    if (/content security policy|refused to/i.test(message.text())) problems.push(`CSP: ${message.text()}`)
  })
  await page.goto(url)
  return { page, context, urls, problems }
}

/** A small PNG of one colour (photos are checked by their bytes). */
export async function pngOf(width: number, height: number, colour: string): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: colour } }).png().toBuffer()
}

/** The texts of the chat's messages, in the order shown. */
export async function messageTexts(page: Page): Promise<string[]> {
  return page.locator('.messages .message .body').allTextContents()
}
