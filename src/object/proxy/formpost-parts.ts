// The parts of a multipart/form-data body, one at a time and streamed (Swift's
// iter_multipart_mime_documents + parse_mime_headers), on @fastify/busboy's Dicer parser: each
// part's headers, then its body as a stream the caller reads (or leaves, and it is skipped).
// Dicer waits while a part's stream is full, so a file part flows at the pace its consumer
// (an object PUT) reads it and a form is never held in memory.
import type { Readable } from 'node:stream'
import { Dicer } from '@fastify/busboy'

/** One part of the form: its headers (lower-case names, UTF-8 values) and its body. */
export interface FormPart {
  headers: Record<string, string>
  body: Readable
  /** Why the body was cut short (the form ended mid-part, the client went away), once it was. */
  failure(): Error | undefined
}

/** A body that is not a multipart document (Swift's MimeInvalid), or one that ends mid-part. */
export class MimeError extends Error {
  override readonly name = 'MimeError'
}

/** The client went away (or stalled) while its form was being read. */
export class ClientGone extends Error {
  override readonly name = 'ClientGone'
}

/** Swift's ATTRIBUTES_RE, applied from the start of the attributes as parse_content_disposition does. */
const ATTRIBUTE = /^(\w+)=(".*?"|[^";]+)(; ?|$)/

/** Swift's parse_content_disposition: `form-data; name="a"; filename="b"` → ['form-data', { name, filename }]. */
export function parseDisposition(header: string): [string, Record<string, string>] {
  const attributes: Record<string, string> = {}
  const semi = header.indexOf(';')
  if (semi < 0) return [header, attributes]
  let attrs = header.slice(semi + 1).trim()
  for (let m = ATTRIBUTE.exec(attrs); m; m = ATTRIBUTE.exec(attrs)) {
    attrs = attrs.slice(m[0].length)
    attributes[m[1]!] = m[2]!.replace(/^"+|"+$/g, '')
  }
  return [header.slice(0, semi).trim(), attributes]
}

/** Header bytes arrive as latin-1 characters: read them as UTF-8 when they are (Swift's parse_mime_headers). */
function utf8(v: string): string {
  if (!/[^\x00-\x7f]/.test(v)) return v
  const b = Buffer.from(v, 'latin1')
  const s = b.toString('utf8')
  return Buffer.from(s, 'utf8').equals(b) ? s : v
}

type Item = FormPart | Error | null

/**
 * The parts of `input`, in order. Leaving a part unread when asking for the next skips it;
 * stopping early (break, throw) unhooks the parser and lets the rest of the body drain.
 * Throws MimeError when the body does not start with the boundary or ends mid-part, and
 * ClientGone when the client goes away (a part being read errors with it too).
 */
export async function* formParts(input: Readable | undefined, boundary: string): AsyncGenerator<FormPart, void, undefined> {
  if (!input) throw new MimeError('invalid starting boundary')
  // Dicer also reads partHwm and maxHeaderSize, which its typings leave out.
  const config: Dicer.Config & { partHwm: number; maxHeaderSize: number } = {
    boundary, partHwm: 64 * 1024, maxHeaderPairs: 100, maxHeaderSize: 16 * 1024,
  }
  const dicer = new Dicer(config)
  const queue: Item[] = []
  let wake: (() => void) | undefined
  const push = (x: Item) => { queue.push(x); wake?.(); wake = undefined }
  let badPreamble = false
  let seenPart = false
  let current: Readable | undefined

  // Swift accepts blank lines before the first boundary and nothing else. The preamble's data
  // events come a tick after its end is known, so the first part waits for them.
  let preambleDone = Promise.resolve()
  dicer.on('preamble', (p: Readable) => {
    preambleDone = new Promise<void>((resolve) => { p.on('end', resolve); p.on('close', resolve) })
    p.on('error', () => {})
    p.on('data', (d: Buffer) => { if (/[^\r\n]/.test(d.toString('latin1'))) badPreamble = true })
  })
  dicer.on('part', (p: Readable) => {
    seenPart = true
    // A part cut short (the body ended or failed) is destroyed with the error, which is kept:
    // it may come before its reader is listening.
    let failure: Error | undefined
    p.on('error', (e: Error) => { failure ??= e; if (!p.destroyed) p.destroy(e) })
    p.once('header', (h: Record<string, string[]>) => {
      const headers: Record<string, string> = {}
      for (const k in h) headers[k] = utf8(h[k]![0] ?? '')
      current = p
      push({ headers, body: p, failure: () => failure })
    })
  })
  dicer.on('finish', () => push(null))
  dicer.on('error', () => {
    push(new MimeError(seenPart && !badPreamble ? 'unexpected end of multipart data' : 'invalid starting boundary'))
  })
  const failed = (e: Error) => {
    const gone = new ClientGone(e.message)
    current?.destroy(gone)
    push(gone)
  }
  const onError = (e: Error) => failed(e)
  const onClose = () => { if (!input.readableEnded) failed(new Error('client disconnected')) }
  input.on('error', onError)
  input.on('close', onClose)
  input.pipe(dicer)
  let last: FormPart | undefined
  try {
    for (;;) {
      // What the caller left of the previous part is skipped.
      if (last && !last.body.readableEnded) last.body.resume()
      while (!queue.length) await new Promise<void>((resolve) => { wake = resolve })
      const x = queue.shift()!
      if (x === null) return
      if (x instanceof Error) throw x
      if (!last) {
        await preambleDone
        if (badPreamble) throw new MimeError('invalid starting boundary')
      }
      last = x
      yield x
    }
  } finally {
    input.off('error', onError)
    input.off('close', onClose)
    input.unpipe(dicer)
    // The rest of an unfinished body is read and dropped (a large one closes the connection instead, see app.ts).
    if (!input.readableEnded && !input.destroyed) input.resume()
  }
}
