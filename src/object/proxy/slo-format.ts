// Result bodies of the long-running large-object requests (manifest PUT with heartbeat=on,
// ?multipart-manifest=delete, copies with heartbeat=on): Swift's get_heartbeat_response_body in
// text/plain, JSON or XML as the client's Accept asks, and the whitespace "heartbeats" that keep
// the connection alive while the work goes on.
import { STATUS_CODES } from 'node:http'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { listingContentType, pyJsonDumps } from '../storage/listing.ts'

/** swob's reason phrases where they differ from Node's. */
const SWOB_REASONS: Record<number, string> = {
  413: 'Request Entity Too Large', 416: 'Requested Range Not Satisfiable', 499: 'Client Disconnect',
  500: 'Internal Error',
}

/** "404 Not Found": a status line as swob writes it (Swift puts these in result bodies). */
export function statusLine(status: number): string {
  return `${status} ${SWOB_REASONS[status] ?? STATUS_CODES[status] ?? 'Unknown'}`
}

/** Formats of result bodies (bulk's ACCEPTABLE_FORMATS). */
export type ResultFormat = 'text/plain' | 'application/json' | 'application/xml' | 'text/xml'

/**
 * The Accept header's best match among the result formats; `fallback` when the header is
 * malformed or matches none (Swift: text/plain for uploads, none — a 406 — for deletes).
 */
export function resultFormat(accept: string | undefined, fallback: ResultFormat | null = 'text/plain'): ResultFormat | null {
  try { return listingContentType(new URLSearchParams(), accept) } catch { return fallback }
}

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** Swift's get_heartbeat_response_body: `data` (in insertion order for JSON) and the failures as [name, status]. */
export function resultBody(format: ResultFormat | null, data: Record<string, string | number>, errors: Array<[string, string]>,
                           rootTag: string): Buffer {
  if (format === 'application/json') return Buffer.from(pyJsonDumps({ ...data, Errors: errors }))
  const keys = Object.keys(data).sort()
  if (format?.endsWith('/xml')) {
    const out = [`<${rootTag}>\n`]
    for (const k of keys) {
      const tag = k.replace(/ /g, '_').toLowerCase()
      out.push(`<${tag}>${xmlEscape(String(data[k]))}</${tag}>\n`)
    }
    out.push('<errors>\n')
    for (const [name, status] of errors) out.push(`<object><name>${xmlEscape(name)}</name><status>${xmlEscape(status)}</status></object>\n`)
    out.push(`</errors>\n</${rootTag}>\n`)
    return Buffer.from(out.join(''))
  }
  const out = keys.map((k) => `${k}: ${data[k]}\n`)
  out.push('Errors:\n')
  for (const [name, status] of errors) out.push(`${name}, ${status}\n`)
  return Buffer.from(out.join(''))
}

/** How a heartbeat body starts and beats. */
export interface HeartbeatOptions {
  /** Seconds between heartbeats (Swift's yield_frequency). */
  everySeconds: number
  /** Sent at once (a manifest PUT's first heartbeat); without it the first beat waits a period. */
  first?: Buffer
  /** The first beat when there was no `first` (bulk deletes in XML start with the XML declaration). */
  firstBeat?: Buffer
}

/**
 * A body that sends whitespace while `work` runs, then "\r\n\r\n" and the result (Swift's
 * heartbeat responses). Without `first`, a result ready within one period comes back as a
 * plain Buffer, exactly as Swift sends it when no heartbeat was due.
 */
export async function heartbeatBody(work: Promise<Buffer>, o: HeartbeatOptions): Promise<Buffer | Readable> {
  const periodMs = o.everySeconds * 1000
  if (!o.first) {
    const ac = new AbortController()
    const settled = work.then((b) => ({ b }), (e: unknown) => ({ e }))
    const done = await Promise.race([settled, sleep(periodMs, null, { signal: ac.signal }).catch(() => null)])
    ac.abort()
    if (done && 'b' in done) return done.b
    if (done) throw done.e
  }
  const out = new Readable({ read() {} })
  out.push(o.first ?? o.firstBeat ?? Buffer.from(' '))
  const timer = setInterval(() => { out.push(' ') }, periodMs)
  work.then((body) => {
    clearInterval(timer)
    if (out.destroyed) return
    out.push(Buffer.concat([Buffer.from('\r\n\r\n'), body]))
    out.push(null)
  }, (err: unknown) => {
    clearInterval(timer)
    out.destroy(err instanceof Error ? err : new Error(String(err)))
  })
  out.once('close', () => clearInterval(timer))
  return out
}
