import { randomBytes } from 'node:crypto'

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

let lastTime = -1
let lastRandom: number[] = []

/**
 * A ULID: 48 bits of milliseconds then 80 random bits, in Crockford base32. Ids sort by creation
 * time, so a sort key made of them lists items newest-first without a second attribute. Within one
 * millisecond this process increments the random part, so its ids stay in creation order.
 */
export function newUlid(now: number): string {
  const time = Math.max(now, lastTime)
  if (time === lastTime) {
    let i = lastRandom.length - 1
    while (i >= 0 && lastRandom[i] === 31) lastRandom[i--] = 0
    if (i >= 0) lastRandom[i]!++
  } else {
    const bytes = randomBytes(16)
    // The top bit stays clear so that increments never overflow in practice.
    lastRandom = Array.from(bytes, (byte, index) => (index === 0 ? byte % 16 : byte % 32))
    lastTime = time
  }
  let encodedTime = ''
  let ms = time
  for (let i = 0; i < 10; i++) {
    encodedTime = CROCKFORD[ms % 32]! + encodedTime
    ms = Math.floor(ms / 32)
  }
  return encodedTime + lastRandom.map((digit) => CROCKFORD[digit]).join('')
}

export const isUlid = (value: string): boolean => /^[0-9A-HJKMNP-TV-Z]{26}$/.test(value)
