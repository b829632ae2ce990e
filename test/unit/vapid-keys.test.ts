import { mkdtemp } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { generateVapidKeys } from '../../src/infra/push/web-push.js'
import { loadOrCreateVapidKeys } from '../../src/infra/secrets.js'

describe('the embedded default’s VAPID keys', () => {
  it('are generated once under DATA_DIR and shared by processes starting at once', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hush-vapid-'))
    const keys = await Promise.all(Array.from({ length: 4 }, () => loadOrCreateVapidKeys(dataDir, generateVapidKeys)))
    expect(new Set(keys.map((k) => k.publicKey)).size).toBe(1)
    expect(Buffer.from(keys[0]!.publicKey, 'base64url')).toHaveLength(65)
    expect(await loadOrCreateVapidKeys(dataDir, generateVapidKeys)).toEqual(keys[0])
  })
})
