import type { AccountService } from './accounts.js'
import type { ChatService } from './chats.js'
import type { LiveService } from './live.js'
import type { PhotoService } from './photos.js'
import type { PostService } from './posts.js'

/** The domain services a request may call; built once per app in app.ts. */
export interface Services {
  accounts: AccountService
  posts: PostService
  chats: ChatService
  live: LiveService
  photos: PhotoService
}
