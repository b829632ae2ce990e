import { createHmac } from 'node:crypto'

const ADJECTIVES = [
  'Amber', 'Azure', 'Bold', 'Brave', 'Bright', 'Calm', 'Clever', 'Coral', 'Crimson', 'Dapper',
  'Dusky', 'Eager', 'Emerald', 'Fierce', 'Gentle', 'Gilded', 'Golden', 'Hidden', 'Indigo', 'Ivory',
  'Jade', 'Jolly', 'Keen', 'Lively', 'Lucky', 'Lunar', 'Mellow', 'Misty', 'Noble', 'Olive',
  'Quiet', 'Rapid', 'Rosy', 'Russet', 'Scarlet', 'Silent', 'Silver', 'Solar', 'Swift', 'Velvet',
]
const ANIMALS = [
  'Badger', 'Bear', 'Beaver', 'Crane', 'Crow', 'Deer', 'Dolphin', 'Eagle', 'Falcon', 'Ferret',
  'Finch', 'Fox', 'Gecko', 'Hare', 'Hawk', 'Heron', 'Ibis', 'Jackal', 'Koala', 'Lark',
  'Lemur', 'Lynx', 'Marten', 'Moose', 'Newt', 'Otter', 'Owl', 'Panda', 'Puffin', 'Quail',
  'Raven', 'Robin', 'Seal', 'Sparrow', 'Stoat', 'Swan', 'Tiger', 'Turtle', 'Walrus', 'Wolf',
]

/**
 * The alias of a user in one chat, e.g. "Amber Fox": a keyed hash of the chat and the user, so it
 * is stable within the chat, unrelated across chats (a user cannot be followed from post to post),
 * and cannot be turned back into the user id without the server's key. `avoid` is the other
 * side's alias: the two sides of a chat never share one.
 */
export function aliasFor(secret: string, chatId: string, userId: string, avoid?: string): string {
  for (let attempt = 0; ; attempt++) {
    const digest = createHmac('sha256', secret).update(`alias\n${chatId}\n${userId}\n${attempt}`).digest()
    const alias = `${ADJECTIVES[digest.readUInt16BE(0) % ADJECTIVES.length]} ${ANIMALS[digest.readUInt16BE(2) % ANIMALS.length]}`
    if (alias !== avoid) return alias
  }
}
