import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'

export interface Secrets {
  jwtSecret: string
  idSecret: string
}

/**
 * The embedded default's secrets, generated on first start and kept under DATA_DIR so that tokens
 * survive restarts and processes started on one DATA_DIR agree. Created with O_EXCL so two
 * processes starting at once end up with the same file.
 */
export async function loadOrCreateSecrets(dataDir: string): Promise<Secrets> {
  const file = path.join(dataDir, 'secrets.json')
  await mkdir(dataDir, { recursive: true })
  const fresh: Secrets = {
    jwtSecret: randomBytes(32).toString('base64url'),
    idSecret: randomBytes(32).toString('base64url'),
  }
  try {
    await writeFile(file, JSON.stringify(fresh, null, 2) + '\n', { flag: 'wx', mode: 0o600 })
    return fresh
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
  // Another process may have created the file a moment ago and not finished writing it.
  for (let attempt = 0; ; attempt++) {
    try {
      const stored = JSON.parse(await readFile(file, 'utf8')) as Partial<Secrets>
      if (typeof stored.jwtSecret === 'string' && typeof stored.idSecret === 'string') {
        return { jwtSecret: stored.jwtSecret, idSecret: stored.idSecret }
      }
      throw new Error(`${file} lacks jwtSecret or idSecret`)
    } catch (error) {
      if (attempt >= 20) throw error
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
}
