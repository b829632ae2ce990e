import type { AccountService } from './accounts.js'
import type { ChatCatchUp } from './chats/catch-up.js'
import type { ChatCloser } from './chats/closing.js'
import type { ChatDirectory } from './chats/directory.js'
import type { MessageService } from './chats/messages.js'
import type { ReceiptService } from './chats/receipts.js'
import type { ChatStarter } from './chats/start.js'
import type { LiveService } from './live/live-service.js'
import type { PhotoService } from './photos.js'
import type { PostService } from './posts.js'
import type { DeviceService } from './push/devices.js'
import type { ChatMutes } from './push/mutes.js'

/** The domain services a request may call; built once per app in app.ts. */
export interface Services {
  accounts: AccountService
  posts: PostService
  /** The caller's chats: one by id, or all. */
  chats: ChatDirectory
  /** inbox: what changed since a cursor. */
  catchUp: ChatCatchUp
  /** startChat. */
  starts: ChatStarter
  /** leaveChat and blockChat. */
  closes: ChatCloser
  /** sendMessage and history. */
  messages: MessageService
  /** markRead and unread counts. */
  receipts: ReceiptService
  live: LiveService
  photos: PhotoService
  /** registerDevice, unregisterDevice, pushSettings. */
  devices: DeviceService
  /** muteChat. */
  mutes: ChatMutes
}
