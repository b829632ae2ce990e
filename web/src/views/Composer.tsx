import { useState } from 'preact/hooks'
import { describeError } from '../errors.js'
import { ErrorNote } from './ErrorNote.js'

interface ComposerProps {
  label: string
  placeholder: string
  /** The button's word. */
  action: string
  /** Rejects with what went wrong; the text stays for another try. */
  onSubmit: (body: string) => Promise<void>
  maxLength?: number
}

/** A text box and a button for a post or a comment: cleared once it went through, kept if not. */
export function Composer({ label, placeholder, action, onSubmit, maxLength = 2000 }: ComposerProps) {
  const [body, setBody] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string>()

  const submit = async (event: Event) => {
    event.preventDefault()
    if (body.trim() === '' || busy) return
    setBusy(true)
    setError(undefined)
    try {
      await onSubmit(body.trim())
      setBody('')
    } catch (cause) {
      setError(describeError(cause))
    } finally {
      setBusy(false)
    }
  }

  return (
    <form class="composer" onSubmit={(event) => void submit(event)}>
      <label>
        <span class="label">{label}</span>
        <textarea value={body} placeholder={placeholder} maxLength={maxLength} rows={3} onInput={(e) => setBody(e.currentTarget.value)} />
      </label>
      <button type="submit" disabled={busy || body.trim() === ''}>
        {action}
      </button>
      <ErrorNote error={error} />
    </form>
  )
}
