import { useState } from 'preact/hooks'
import type { LogMessage, Photo } from '../chat-log.js'
import { describeError } from '../errors.js'
import type { ChatControls } from '../use-chat.js'

/**
 * A message's photo. A plain one shows inline (its URL lasts minutes: a failed load asks for a
 * fresh one, once). A view-once one shows only on request, with a URL fetched right then, and is
 * gone after it was closed; its sender never gets a URL for it.
 */
export function PhotoView({ message, controls }: { message: LogMessage; controls: ChatControls }) {
  const { photo } = message
  if (photo === undefined) return <p class="photo-note">Photo…</p>
  if (photo === null) return null
  if (photo.viewOnce) {
    if (message.fromMe) return <p class="photo-note">View-once photo: it can be opened once.</p>
    if (photo.url === null || message.seq === undefined) return <p class="photo-note">View-once photo, opened. It is gone.</p>
    return <ViewOncePhoto seq={message.seq} photo={photo} controls={controls} />
  }
  if (photo.url === null) return <p class="photo-note">Photo, no longer available.</p>
  return <InlinePhoto seq={message.seq} photo={photo} controls={controls} />
}

function InlinePhoto({ seq, photo, controls }: { seq: number | undefined; photo: Photo; controls: ChatControls }) {
  const [refreshed, setRefreshed] = useState(false)
  const onError = () => {
    if (refreshed || seq === undefined) return
    setRefreshed(true)
    void controls.freshPhoto(seq).catch(() => undefined)
  }
  return <img class="photo" src={photo.url ?? undefined} width={photo.width} height={photo.height} alt="Photo" onError={onError} />
}

function ViewOncePhoto({ seq, photo, controls }: { seq: number; photo: Photo; controls: ChatControls }) {
  const [open, setOpen] = useState<{ url: string } | { error: string } | undefined>()
  const show = async () => {
    try {
      // The URL shown may be minutes old: a fresh one, and null if another device opened it.
      const fresh = await controls.freshPhoto(seq)
      setOpen(fresh?.url ? { url: fresh.url } : { error: 'It was opened already.' })
    } catch (cause) {
      setOpen({ error: describeError(cause) })
    }
  }
  if (!open) {
    return (
      <button type="button" class="photo-open" onClick={() => void show()}>
        Open view-once photo
      </button>
    )
  }
  if ('error' in open) return <p class="photo-note">View-once photo: {open.error}</p>
  return (
    <figure class="view-once">
      <img class="photo" src={open.url} width={photo.width} height={photo.height} alt="View-once photo" />
      <figcaption>
        This photo can be seen only now.{' '}
        <button type="button" onClick={() => controls.viewedOnce(seq, photo)}>
          Close it for good
        </button>
      </figcaption>
    </figure>
  )
}
