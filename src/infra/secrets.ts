import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'

export interface Secrets {
  jwtSecret: string
  idSecret: string
}

/**
 * The embedded default's secrets, generated on first start and kept under DATA_DIR so that tokens
 * survive restarts and processes started on one DATA_DIR agree.
 */
export function loadOrCreateSecrets(dataDir: string): Promise<Secrets> {
  return loadOrCreate<Secrets>(
    path.join(dataDir, 'secrets.json'),
    () => ({ jwtSecret: randomBytes(32).toString('base64url'), idSecret: randomBytes(32).toString('base64url') }),
    (stored) => typeof stored.jwtSecret === 'string' && typeof stored.idSecret === 'string',
  )
}

export interface VapidKeys {
  publicKey: string
  privateKey: string
}

/** The embedded default's VAPID key pair for Web Push (browsers' subscriptions are bound to it). */
export function loadOrCreateVapidKeys(dataDir: string, generate: () => VapidKeys): Promise<VapidKeys> {
  return loadOrCreate<VapidKeys>(path.join(dataDir, 'vapid.json'), generate, (stored) => typeof stored.publicKey === 'string' && typeof stored.privateKey === 'string')
}

/**
 * Reads a JSON file of keys, creating it with `fresh()` when missing. Created with O_EXCL, so two
 * processes starting at once end up with the same file.
 */
async function loadOrCreate<T extends object>(file: string, fresh: () => T, isValid: (stored: Partial<T>) => boolean): Promise<T> {
  await mkdir(path.dirname(file), { recursive: true })
  const created = fresh()
  try {
    await writeFile(file, JSON.stringify(created, null, 2) + '\n', { flag: 'wx', mode: 0o600 })
    return created
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
  // Another process may have created the file a moment ago and not finished writing it.
  for (let attempt = 0; ; attempt++) {
    try {
      const stored = JSON.parse(await readFile(file, 'utf8')) as Partial<T>
      if (isValid(stored)) return stored as T
      throw new Error(`${file} lacks a key`)
    } catch (error) {
      if (attempt >= 20) throw error
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
}
