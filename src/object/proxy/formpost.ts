// FormPOST (Swift's swift/common/middleware/formpost.py): a browser form (POST,
// multipart/form-data) uploads files straight into a container or under an object-name
// prefix, without a token. Its hidden fields — redirect, max_file_size, max_file_count,
// expires — are signed with an account's or container's Temp-URL key; each file part is
// streamed into an object PUT (a preauthorized subrequest) as it arrives. Fields after the
// files are not seen by the files before them, as in Swift.
import { Transform, type TransformCallback, type Readable } from 'node:stream'
import type { ProxyContext } from './context.ts'
import { SwiftError, reason } from './errors.ts'
import { ClientGone, type FormPart, MimeError, formParts, parseDisposition } from './formpost-parts.ts'
import { type Middleware, type SwiftHandler, answerBytes, discardAnswer, subrequest } from './pipeline.ts'
import type { ClientAnswer, SwiftRequest } from './request.ts'
import { ALLOWED_DIGESTS, DEPRECATED_DIGESTS, VERSION_ENV, extractDigest, hmacHex, pyInt, pyQuote, sameString, tempUrlKeys } from './tempurl-sig.ts'

/** Longest value kept of a form field (Swift's MAX_VALUE_LENGTH); the rest is read and dropped. */
export const MAX_VALUE_LENGTH = 4096

/** A form that cannot be processed: 400 "FormPost: <message>". */
class FormInvalid extends Error {}
/** An expired or wrongly signed form: 401 "FormPost: <Message Titled>". */
class FormUnauthorized extends Error {}

/** The FormPOST middleware. */
export function formpost(): Middleware {
  return {
    name: 'formpost',
    info: () => ({ allowed_digests: [...ALLOWED_DIGESTS], deprecated_digests: [...DEPRECATED_DIGESTS] }),
    wrap: (next, ctx) => async (req) => {
      if (req.method !== 'POST') return next(req)
      const boundary = formBoundary(req.headers['content-type'])
      if (boundary === undefined) return next(req)
      try {
        return await translateForm(ctx, next, req, boundary)
      } catch (err) {
        const text = (status: number, msg: string) => new SwiftError(status, Buffer.from(`FormPost: ${msg}`), 'text/plain')
        if (err instanceof MimeError || err instanceof FormInvalid) throw text(400, err.message)
        if (err instanceof FormUnauthorized) {
          throw new SwiftError(401, Buffer.from(`FormPost: ${pyTitle(err.message)}`), 'text/html; charset=UTF-8',
            { 'www-authenticate': `Swift realm="${pyQuote(req.account)}"` })
        }
        if (err instanceof ClientGone) throw SwiftError.status(499)
        throw err
      }
    },
  }
}

/** The boundary of a multipart/form-data Content-Type; undefined for anything else (the POST is not a form). */
function formBoundary(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined
  const [type, attrs] = parseDisposition(contentType)
  return type.toLowerCase() === 'multipart/form-data' && attrs.boundary ? attrs.boundary : undefined
}

/** Python's str.title(): each run of letters capitalized. */
function pyTitle(s: string): string {
  return s.replace(/[A-Za-z]+/g, (w) => w[0]!.toUpperCase() + w.slice(1).toLowerCase())
}

const isSuccess = (status: number) => status >= 200 && status < 300

/** Reads a field's value: its first MAX_VALUE_LENGTH bytes, the rest dropped. */
async function fieldValue(body: Readable): Promise<string> {
  const chunks: Buffer[] = []
  let n = 0
  for await (const c of body as AsyncIterable<Buffer>) {
    if (n < MAX_VALUE_LENGTH) chunks.push(c.subarray(0, MAX_VALUE_LENGTH - n))
    n += c.length
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** Swift's _translate_form: each part in order; files become PUTs; the last PUT's outcome is the answer. */
async function translateForm(ctx: ProxyContext, next: SwiftHandler, req: SwiftRequest, boundary: string): Promise<ClientAnswer> {
  // Keys only for a path naming a container (Swift's _get_keys); none means every file is refused.
  const keys = req.container ? (await tempUrlKeys(ctx, req.account, req.container)).map((k) => k.key) : []
  const attributes: Record<string, string> = {}
  let status = 0
  let message = ''
  let last: { headers: Record<string, string>; body: Buffer } | undefined
  let fileCount = 0
  for await (const part of formParts(req.body, boundary)) {
    const [disp, attrs] = parseDisposition(part.headers['content-disposition'] ?? '')
    if (disp === 'form-data' && attrs.filename) {
      fileCount++
      const maxCount = pyInt(attributes.max_file_count || '0')
      if (maxCount === undefined) throw new FormInvalid('max_file_count not an integer')
      if (fileCount > maxCount) { status = 400; message = 'max file count exceeded'; break }
      const fileAttributes: Record<string, string> = { ...attributes, filename: attrs.filename }
      // A form-wide content-type/content-encoding field wins over the part's own header.
      for (const h of ['content-type', 'content-encoding']) {
        const v = part.headers[h]
        if (!(h in attributes) && v !== undefined) fileAttributes[h] = h === 'content-type' ? v || 'application/octet-stream' : v
      }
      const r = await storeFile(ctx, next, req, fileAttributes, part, keys)
      status = r.status
      last = r
      if (!isSuccess(status)) break
    } else {
      const value = await fieldValue(part.body)
      if (attrs.name !== undefined) attributes[attrs.name.toLowerCase()] = value.replace(/[\r\n-]+$/, '')
    }
  }
  if (!status) { status = 400; message = 'no files to process' }
  return formAnswer(status, message, attributes.redirect, last)
}

/** The client's answer: the status as text, or a 303 to the form's redirect with status and message. */
function formAnswer(status: number, message: string, redirect: string | undefined,
                    last: { headers: Record<string, string>; body: Buffer } | undefined): ClientAnswer {
  const headers: Record<string, string> = {}
  for (const k in last?.headers ?? {}) if (k.startsWith('access-control')) headers[k] = last!.headers[k]
  if (!redirect) {
    const line = `${status} ${reason(status)}`
    let body: Buffer = Buffer.from(message ? `${line}\r\nFormPost: ${pyTitle(message)}` : line)
    if (!isSuccess(status) && last?.body.length) body = last.body
    return { status, headers: { ...headers, 'content-type': 'text/plain' }, body }
  }
  // A redirect is a client's string: bytes a header or URL cannot hold are percent-encoded.
  const safe = Buffer.from(redirect, 'utf8').toString('latin1').replace(/[^\x21-\x7e]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)
  const location = `${safe}${safe.includes('?') ? '&' : '?'}status=${pyQuote(String(status))}&message=${pyQuote(message)}`
  const href = location.replace(/["<>]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  return {
    status: 303,
    headers: { ...headers, location, 'content-type': 'text/html; charset=UTF-8' },
    body: Buffer.from(`<html><body><p><a href="${href}">Click to continue...</a></p></body></html>`),
  }
}

/** Counts a file's bytes on their way to the PUT and fails the stream past max_file_size. */
class CappedBody extends Transform {
  exceeded = false
  private n = 0
  constructor(private readonly max: number) { super() }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.n += chunk.length
    if (this.n > this.max) { this.exceeded = true; cb(new Error('max_file_size exceeded')); return }
    cb(null, chunk)
  }
}

/** Swift's _perform_subrequest: checks the form's limits, expiry and signature, then PUTs the file. */
async function storeFile(ctx: ProxyContext, next: SwiftHandler, req: SwiftRequest, a: Record<string, string>,
                         part: FormPart, keys: string[]): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  if (!keys.length) throw new FormUnauthorized('invalid signature')
  const maxSize = pyInt(a.max_file_size || '0')
  if (maxSize === undefined) throw new FormInvalid('max_file_size not an integer')
  const headers: Record<string, string> = { 'transfer-encoding': 'chunked' }
  if ('x_delete_at' in a) {
    const v = pyInt(a.x_delete_at!)
    if (v === undefined) throw new FormInvalid('x_delete_at not an integer: Unix timestamp required.')
    headers['x-delete-at'] = v.toString()
  }
  if ('x_delete_after' in a) {
    const v = pyInt(a.x_delete_after!)
    if (v === undefined) throw new FormInvalid('x_delete_after not an integer: Number of seconds required.')
    headers['x-delete-after'] = v.toString()
  }
  if ('content-type' in a) headers['content-type'] = a['content-type'] || 'application/octet-stream'
  if ('content-encoding' in a) headers['content-encoding'] = a['content-encoding']!
  const expires = pyInt(a.expires || '0')
  if (expires === undefined) throw new FormInvalid('expired not an integer')
  if (Number(expires) < Date.now() / 1000) throw new FormUnauthorized('form expired')
  checkSignature(req, a, keys)

  const cut = (e: Error) => { throw e instanceof ClientGone ? e : new MimeError('unexpected end of multipart data') }
  const early = part.failure()
  if (early) cut(early)
  const body = part.body
  const capped = new CappedBody(Number(maxSize))
  // The PUT sees a failure when it reads; it may fail before the PUT reads at all.
  capped.on('error', () => {})
  body.on('error', (e) => capped.destroy(e))
  body.pipe(capped)
  let answer: ClientAnswer
  try {
    answer = await next(subrequest(req, {
      method: 'PUT', container: req.container, obj: (req.obj ?? '') + a.filename, headers, body: capped,
      source: 'FP', preauthorized: true,
    }))
  } catch (err) {
    if (!(err instanceof SwiftError)) throw err
    answer = { status: err.status, headers: { ...err.headers }, body: err.body }
  } finally {
    body.unpipe(capped)
  }
  if (capped.exceeded) { discardAnswer(answer); throw new FormInvalid('max_file_size exceeded') }
  const failure = part.failure()
  if (failure) { discardAnswer(answer); cut(failure) }
  return { status: answer.status, headers: answer.headers, body: await answerBytes(answer, 1 << 20) }
}

/**
 * The form's HMAC (sha1/sha256/sha512 as the signature says) of "path\nredirect\n
 * max_file_size\nmax_file_count\nexpires" under any of the keys; throws 401 when none matches.
 * The path is the form's URL path as the client wrote it; the parsed request no longer tells
 * "/c" from "/c/" (nor, without app.ts's swift.version, "/v1" from "/v1.0"), so each spelling
 * of the same target is tried: they all upload to the same place.
 */
function checkSignature(req: SwiftRequest, a: Record<string, string>, keys: string[]): void {
  const digest = extractDigest(a.signature ?? '')
  if (!digest || !ALLOWED_DIGESTS.includes(digest.algo)) throw new FormUnauthorized('invalid signature')
  const tail = `\n${a.redirect || ''}\n${a.max_file_size || '0'}\n${a.max_file_count || '0'}\n${a.expires || '0'}`
  const paths: string[] = []
  const version = req.env?.get(VERSION_ENV)
  for (const v of typeof version === 'string' ? [version] : ['v1', 'v1.0']) {
    const base = `/${v}/${req.account}/${req.container}`
    if (req.obj !== undefined) paths.push(`${base}/${req.obj}`)
    else paths.push(base, `${base}/`)
  }
  let valid = false
  for (const path of paths) {
    for (const key of keys) if (sameString(hmacHex(digest.algo, key, path + tail), digest.hex)) valid = true
  }
  if (!valid) throw new FormUnauthorized('invalid signature')
}
