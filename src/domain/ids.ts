import { randomBytes } from 'node:crypto'

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

/**
 * A ULID: 48 bits of milliseconds then 80 random bits, in Crockford base32. Ids sort by creation
 * time, so a sort key made of them lists items newest-first without a second attribute.
 */
export function newUlid(now: number = Date.now()): string {
  let time = ''
  let ms = now
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[ms % 32]! + time
    ms = Math.floor(ms / 32)
  }
  const bytes = randomBytes(16)
  let random = ''
  for (let i = 0; i < 16; i++) random += CROCKFORD[bytes[i]! % 32]
  return time + random
}

export const isUlid = (value: string): boolean => /^[0-9A-HJKMNP-TV-Z]{26}$/.test(value)
