import { mkdir, readdir, readFile, rm, writeFile, rename } from 'node:fs/promises'
import path from 'node:path'
import type { BlobStore } from '../../domain/ports.js'

const SAFE_KEY = /^[A-Za-z0-9_-]{1,64}(\/[0-9A-Z]{26})?$/

/** Photo bytes on local disk: `<root>/<chatId>/<photoId>`, written atomically (temp + rename). */
export class DiskBlobStore implements BlobStore {
  constructor(readonly root: string) {}

  private file(key: string): string {
    if (!SAFE_KEY.test(key)) throw new Error(`unsafe blob key ${key}`)
    return path.join(this.root, key)
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const file = this.file(key)
    await mkdir(path.dirname(file), { recursive: true })
    const temp = `${file}.${process.pid}.tmp`
    await writeFile(temp, bytes)
    await rename(temp, file)
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await readFile(this.file(key)))
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw error
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.file(key), { force: true })
  }

  async deletePrefix(prefix: string): Promise<void> {
    await rm(this.file(prefix), { recursive: true, force: true })
  }

  async directUrl(): Promise<string | undefined> {
    return undefined
  }

  /** The chats that have photo bytes on this disk. */
  async chatIds(): Promise<string[]> {
    try {
      return (await readdir(this.root, { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw error
    }
  }
}

/**
 * Deletes the photo bytes of chats that are gone (expired or reclaimed), checking each chat that
 * has bytes on disk: a walk of the photo folder, never of the table. A chat's bytes go within one
 * interval of its expiry, even if the stream cascade never runs.
 */
export class DiskPhotoSweeper {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined

  constructor(
    private readonly blobs: DiskBlobStore,
    private readonly isChatGone: (chatId: string) => Promise<boolean>,
    private readonly intervalMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.sweep()
        .catch(this.onError)
        .finally(() => (this.running = undefined))
    }, this.intervalMs)
    this.timer.unref()
  }

  async sweep(): Promise<void> {
    for (const chatId of await this.blobs.chatIds()) {
      if (await this.isChatGone(chatId)) await this.blobs.deletePrefix(chatId)
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    await this.running
  }
}
