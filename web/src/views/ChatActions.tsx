import { useState } from 'preact/hooks'
import type { ChatControls } from '../use-chat.js'

/** Leave and block, each asked once more before it is done: neither can be undone. */
export function ChatActions({ controls }: { controls: ChatControls }) {
  const [asking, setAsking] = useState<'leave' | 'block'>()
  const [reason, setReason] = useState('')
  const peer = controls.state.chat?.peer.alias ?? 'them'

  if (asking === 'leave') {
    return (
      <p class="actions confirm">
        Leave this chat? {peer} will see that you left.{' '}
        <button type="button" onClick={() => void controls.leave()}>
          Yes, leave
        </button>{' '}
        <button type="button" class="link" onClick={() => setAsking(undefined)}>
          Cancel
        </button>
      </p>
    )
  }
  if (asking === 'block') {
    return (
      <p class="actions confirm">
        Block {peer}? The chat closes and they can never start one with you again.{' '}
        <input aria-label="Reason (optional)" placeholder="Reason (optional)" value={reason} maxLength={500} onInput={(e) => setReason(e.currentTarget.value)} />{' '}
        <button type="button" onClick={() => void controls.block(reason)}>
          Yes, block
        </button>{' '}
        <button type="button" class="link" onClick={() => setAsking(undefined)}>
          Cancel
        </button>
      </p>
    )
  }
  return (
    <p class="actions">
      <button type="button" class="link" onClick={() => setAsking('leave')}>
        Leave chat
      </button>{' '}
      <button type="button" class="link" onClick={() => setAsking('block')}>
        Block
      </button>
    </p>
  )
}
