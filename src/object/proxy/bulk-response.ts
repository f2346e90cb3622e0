// What bulk delete and archive extraction share (Swift's bulk.py and request_helpers'
// get_heartbeat_response_body): the answer is always "200 OK" and its body tells the real
// outcome, in text/plain, JSON or XML as the client's Accept asks. Many subrequests can make a
// short request run long, so after `yieldMs` without an answer the 200 is sent and whitespace
// trickles out until the result follows (Swift's yield_frequency heartbeat).
import { PassThrough } from 'node:stream'
import { listingContentType, pyJsonDumps } from '../storage/listing.ts'
import { SwiftError } from './errors.ts'
import type { ClientAnswer } from './request.ts'

/** The formats a bulk answer can take (Swift's ACCEPTABLE_FORMATS). */
export type BulkFormat = 'text/plain' | 'application/json' | 'application/xml' | 'text/xml'

/** swob's reason phrases and default explanations, which bulk bodies quote verbatim. */
const SWOB: Record<number, [string, string]> = {
  200: ['OK', ''], 201: ['Created', ''], 202: ['Accepted', 'The request is accepted for processing.'],
  204: ['No Content', ''], 301: ['Moved Permanently', 'The resource has moved permanently.'],
  400: ['Bad Request', 'The server could not comply with the request since it is either malformed or otherwise incorrect.'],
  401: ['Unauthorized', 'This server could not verify that you are authorized to access the document you requested.'],
  403: ['Forbidden', 'Access was denied to this resource.'],
  404: ['Not Found', 'The resource could not be found.'],
  405: ['Method Not Allowed', 'The method is not allowed for this resource.'],
  406: ['Not Acceptable', 'The resource is not available in a format acceptable to your browser.'],
  408: ['Request Timeout', 'The server has waited too long for the request to be sent by the client.'],
  409: ['Conflict', 'There was a conflict when trying to complete your request.'],
  410: ['Gone', 'This resource is no longer available.'],
  411: ['Length Required', 'Content-Length header required.'],
  412: ['Precondition Failed', 'A precondition for this request was not met.'],
  413: ['Request Entity Too Large', 'The body of your request was too large for this server.'],
  414: ['Request URI Too Long', 'The request URI was too long for this server.'],
  415: ['Unsupported Media Type', 'The request media type is not supported by this server.'],
  416: ['Requested Range Not Satisfiable', 'The Range requested is not available.'],
  422: ['Unprocessable Entity', 'Unable to process the contained instructions'],
  499: ['Client Disconnect', 'The client was disconnected during request.'],
  500: ['Internal Error', 'The server has either erred or is incapable of performing the requested operation.'],
  501: ['Not Implemented', 'The requested method is not implemented by this server.'],
  502: ['Bad Gateway', 'Bad gateway.'],
  503: ['Service Unavailable', 'The server is currently unavailable. Please try again at a later time.'],
  504: ['Gateway Timeout', 'A timeout has occurred speaking to a backend server.'],
  507: ['Insufficient Storage', 'There was not enough space to save the resource. Drive: '],
}

/** swob's status line of a code: "404 Not Found", "413 Request Entity Too Large". */
export function swobStatus(code: number): string {
  return `${code} ${SWOB[code]?.[0] ?? 'Unknown'}`
}

/** swob's default error page of a code (what `err.body` holds for HTTPNotAcceptable(request=req)). */
export function swobBody(code: number): string {
  const [title, text] = SWOB[code] ?? ['Unknown', '']
  return `<html><h1>${title}</h1><p>${text}</p></html>`
}

/** An error that ends a bulk operation: its status and the text that becomes "Response Body". */
export class BulkAbort extends Error {
  constructor(readonly status: number, readonly body: string = swobBody(status)) { super(body) }
}

/** Python's urllib.parse.quote(s, safe): UTF-8 bytes, unreserved characters and `safe` kept. */
export function pyQuote(s: string | Buffer, safe = '/'): string {
  const bytes = typeof s === 'string' ? Buffer.from(s, 'utf8') : s
  let out = ''
  for (const b of bytes) {
    const c = String.fromCharCode(b)
    if ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || '_.-~'.includes(c) || (b < 0x80 && safe.includes(c))) out += c
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0')
  }
  return out
}

/** Python's unquote on bytes: %XX sequences decoded, malformed ones left as they are. */
export function pyUnquoteBytes(b: Buffer): Buffer {
  if (!b.includes(0x25)) return b
  const out = Buffer.allocUnsafe(b.length)
  let n = 0
  const hex = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0x25 && i + 2 < b.length && hex(b[i + 1]!) && hex(b[i + 2]!)) {
      out[n++] = parseInt(String.fromCharCode(b[i + 1]!, b[i + 2]!), 16)
      i += 2
    } else out[n++] = b[i]!
  }
  return out.subarray(0, n)
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/** Bytes as a name, or undefined when they are not valid UTF-8 or hold a NUL (Swift's check_utf8). */
export function utf8Name(b: Buffer): string | undefined {
  if (b.includes(0)) return undefined
  try { return strictUtf8.decode(b) } catch { return undefined }
}

/**
 * The answer's format from Accept (swob's best_match over ACCEPTABLE_FORMATS); undefined for a
 * malformed header or one nothing offered satisfies, which bulk reports as 406 in the body.
 */
export function bulkFormat(accept: string | undefined): BulkFormat | undefined {
  try { return listingContentType(new URLSearchParams(), accept) } catch { return undefined }
}

/** The outcome of a bulk operation; `counts` in Swift's key order ("Number Deleted", …). */
export interface BulkResult {
  status: number
  body: string
  counts: Record<string, number>
  /** [quoted name, status line] of each item that failed. */
  errors: [string, string][]
}

const xmlEscape = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')

/** The result as Swift writes it (get_heartbeat_response_body); `root` is "delete" or "extract". */
export function renderBulkResult(format: BulkFormat | undefined, r: BulkResult, root: 'delete' | 'extract'): string {
  const dict: Record<string, string | number | unknown> = { 'Response Status': swobStatus(r.status), 'Response Body': r.body, ...r.counts }
  if (format === 'application/json') return pyJsonDumps({ ...dict, Errors: r.errors })
  const keys = Object.keys(dict).sort()
  if (format?.endsWith('/xml')) {
    let out = `<${root}>\n`
    for (const k of keys) {
      const tag = k.replaceAll(' ', '_').toLowerCase()
      out += `<${tag}>${xmlEscape(String(dict[k]))}</${tag}>\n`
    }
    out += '<errors>\n'
    for (const [name, status] of r.errors) out += `<object><name>${xmlEscape(name)}</name><status>${xmlEscape(status)}</status></object>\n`
    return out + `</errors>\n</${root}>\n`
  }
  let out = ''
  for (const k of keys) out += `${k}: ${dict[k]}\n`
  out += 'Errors:\n'
  for (const [name, status] of r.errors) out += `${name}, ${status}\n`
  return out
}

/**
 * Runs a bulk operation and answers 200 with its rendered result. When it takes longer than
 * `yieldMs`, the 200 goes out at once with a streamed body: the XML declaration (for XML) or a
 * space, then a space every `yieldMs`, then "\r\n\r\n" and the result, as Swift's heartbeat.
 * `run` fills `result` as it goes; a BulkAbort it throws sets the final status and body (the
 * counts so far stay, as in Swift); anything else is a bug, reported as "500 Internal Error".
 */
export function bulkAnswer(format: BulkFormat | undefined, root: 'delete' | 'extract', yieldMs: number, result: BulkResult,
                           run: () => Promise<void>, onBug: (err: unknown) => void): Promise<ClientAnswer> {
  const headers: Record<string, string> = format ? { 'content-type': format } : {}
  const done = run().catch((err: unknown) => {
    if (err instanceof BulkAbort) { result.status = err.status; result.body = err.body; return }
    onBug(err)
    result.status = 500
    result.body = ''
  })
  return new Promise<ClientAnswer>((resolve) => {
    let stream: PassThrough | undefined
    let timer: NodeJS.Timeout | undefined = setTimeout(function beat() {
      if (!stream) {
        stream = new PassThrough()
        stream.on('error', () => {})
        stream.write(format?.endsWith('/xml') ? '<?xml version="1.0" encoding="UTF-8"?>\n' : ' ')
        resolve({ status: 200, headers, body: stream })
      } else stream.write(' ')
      timer = setTimeout(beat, yieldMs)
    }, yieldMs)
    void done.then(() => {
      clearTimeout(timer)
      const text = renderBulkResult(format, result, root)
      if (stream) stream.end('\r\n\r\n' + text)
      else resolve({ status: 200, headers, body: Buffer.from(text) })
    })
  })
}

/** The status of an answer or of the SwiftError a handler threw (subrequests through `next`). */
export async function subStatus(p: Promise<ClientAnswer>, drop: (a: ClientAnswer) => void): Promise<number> {
  try {
    const a = await p
    drop(a)
    return a.status
  } catch (err) {
    if (err instanceof SwiftError) return err.status
    throw err
  }
}
