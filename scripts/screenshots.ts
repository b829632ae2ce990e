import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { pino } from 'pino'
import { createApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { buildWebApp, launchChromium, openUser, pngOf, type UserPage } from '../test/support/web-app.js'

/**
 * Screenshots of the web chat for the README: `node --import tsx scripts/screenshots.ts`.
 * Builds web/, starts Hush on a fresh embedded DynamoDB Local (needs Java) and a free port, plays
 * a short session of two anonymous users in headless Chromium, and writes docs/web-chat-*.png.
 */
const DOCS = path.resolve(import.meta.dirname, '..', 'docs')

const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hush-screenshots-'))
const webDir = await buildWebApp()
const app = createApp(loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, WEB_APP_DIR: webDir, LOG_LEVEL: 'warn' }), pino({ level: 'warn' }))
const { url } = await app.start()
const browser = await launchChromium()
try {
  const a = await openUser(browser, `${url}/`)
  const b = await openUser(browser, `${url}/`)
  for (const body of [
    'I still sleep with the light on. I am 34.',
    'I pretend to know wine. I pick the second cheapest bottle every time.',
    'I moved to a new city six months ago and have not made a single friend yet.',
  ]) {
    await a.page.goto(`${url}/#/`)
    await a.page.getByLabel('Share a secret').fill(body)
    await a.page.getByRole('button', { name: 'Post' }).click()
    await a.page.locator('.secret').waitFor()
  }
  await b.page.getByRole('button', { name: 'Refresh' }).click()
  await b.page.getByRole('link', { name: /six months ago/ }).click()
  await b.page.getByLabel('Comment').fill('Same here, a year in. It gets better once you join something weekly.')
  await b.page.getByRole('button', { name: 'Comment' }).click()
  await b.page.locator('.comment').waitFor()
  await b.page.screenshot({ path: path.join(DOCS, 'web-chat-post.png') })

  await b.page.getByRole('button', { name: 'Chat with the author' }).click()
  await b.page.locator('.chat-head h1').waitFor()
  await a.page.getByRole('link', { name: /Chats/ }).click()
  await a.page.locator('.chat-item a').first().click()
  await a.page.locator('.chat-head h1').waitFor()
  await say(b, 'Hi! I saw your post. What kind of things do you like doing?')
  await say(a, 'Hey. Climbing, mostly, and I used to play in a band.')
  await say(b, 'There is a bouldering gym with a Thursday beginners night near the river.')
  await a.page.locator('input[type=file]').setInputFiles({ name: 'wall.png', mimeType: 'image/png', buffer: await pngOf(360, 200, '#7a9cc6') })
  await b.page.locator('img.photo').waitFor()
  await say(a, 'That is my local wall. Thursday sounds good.')
  await b.page.getByLabel('Message').pressSequentially('See you')
  await a.page.getByTestId('typing').filter({ hasText: 'is typing' }).waitFor()
  await a.page.screenshot({ path: path.join(DOCS, 'web-chat-conversation.png'), fullPage: true })
  await b.page.goto(`${url}/#/`)
  await b.page.locator('.post').first().waitFor()
  await b.page.screenshot({ path: path.join(DOCS, 'web-chat-feed.png') })
} finally {
  await browser.close()
  await app.stop()
  await rm(webDir, { recursive: true, force: true })
  await rm(dataDir, { recursive: true, force: true })
}

/** Sends a message from one side and waits until the other side shows it. */
async function say(from: UserPage, text: string): Promise<void> {
  await from.page.getByLabel('Message').fill(text)
  await from.page.getByRole('button', { name: 'Send', exact: true }).click()
  await from.page.locator('.message.mine .body', { hasText: text }).waitFor()
}
