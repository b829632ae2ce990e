import { useRef, useState } from 'preact/hooks'
import type { ChatControls } from '../use-chat.js'

/** The message box: text (Enter sends, Shift+Enter breaks the line), or a photo, optionally view-once. */
export function MessageComposer({ controls }: { controls: ChatControls }) {
  const [draft, setDraft] = useState('')
  const [viewOnce, setViewOnce] = useState(false)
  const [uploading, setUploading] = useState(false)
  const fileInput = useRef<HTMLInputElement>(null)

  const send = (event?: Event) => {
    event?.preventDefault()
    const body = draft.trim()
    if (body === '') return
    setDraft('')
    void controls.send(body)
  }
  const sendPhoto = async (file: File | undefined) => {
    if (!file) return
    setUploading(true)
    await controls.sendPhoto(file, viewOnce)
    setUploading(false)
    if (fileInput.current) fileInput.current.value = ''
  }

  return (
    <form class="message-composer" onSubmit={send}>
      <textarea
        aria-label="Message"
        placeholder="Message"
        rows={2}
        maxLength={4000}
        value={draft}
        onInput={(e) => {
          setDraft(e.currentTarget.value)
          controls.draftChanged(e.currentTarget.value)
        }}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey) send(e)
        }}
      />
      <div class="composer-row">
        <button type="submit" disabled={draft.trim() === ''}>
          Send
        </button>
        <label class="file">
          {uploading ? 'Sending photo…' : 'Photo'}
          <input ref={fileInput} type="file" accept="image/jpeg,image/png,image/webp,image/gif" disabled={uploading} onChange={(e) => void sendPhoto(e.currentTarget.files?.[0])} />
        </label>
        <label>
          <input type="checkbox" checked={viewOnce} onChange={(e) => setViewOnce(e.currentTarget.checked)} /> view once
        </label>
      </div>
    </form>
  )
}
