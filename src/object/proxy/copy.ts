// Server-side copy (Swift's middleware/copy.py): `COPY` with Destination[-Account], or `PUT`
// with X-Copy-From[-Account] and an empty body. The source is read like a client GET (with
// the caller's read access to it) and its body streams straight into the destination PUT,
// keeping the source's metadata unless X-Fresh-Metadata says otherwise.
import { Readable } from 'node:stream'
import { isTrue } from '../storage/storage-util.ts'
import { CONSTRAINTS } from './constraints.ts'
import { type ProxyContext, backendHeaders } from './context.ts'
import { SwiftError } from './errors.ts'
import { objectAnswer, readObjectRaw, storeObject, writableContainer } from './object.ts'
import type { ClientAnswer, SwiftRequest } from './request.ts'
import { quote } from './storage-client.ts'

/** Source headers a copy keeps: metadata and the headers objects store (Swift's _copy_headers and allowed_headers). */
const KEPT = new Set(['x-delete-at', 'content-disposition', 'content-encoding', 'cache-control', 'content-language', 'expires', 'x-robots-tag'])
const isMeta = (k: string) => k.startsWith('x-object-meta-') || k.startsWith('x-object-sysmeta-') || k.startsWith('x-object-transient-sysmeta-')

/** Swift's check_path_header: "<container>/<object>" (leading "/" optional, URL-quoted); 412 otherwise. */
export function parseCopyPath(value: string, header: string): [string, string] {
  let v: string
  try { v = decodeURIComponent(value) } catch { v = value }
  if (v.startsWith('/')) v = v.slice(1)
  const slash = v.indexOf('/')
  if (slash <= 0 || slash === v.length - 1) {
    throw SwiftError.text(412, `${header} header must be of the form <container name>/<object name>`)
  }
  return [v.slice(0, slash), v.slice(slash + 1)]
}

/** An account named in a header (Destination-Account, X-Copy-From-Account); 412 when not a name. */
function accountHeader(value: string, header: string): string {
  let v: string
  try { v = decodeURIComponent(value) } catch { v = value }
  if (!v) throw SwiftError.text(412, `${header} name cannot be empty`)
  if (v.includes('/')) throw SwiftError.text(412, `${header} name cannot contain slashes`)
  return v
}

/** Handles COPY and PUT with X-Copy-From. */
export async function copyObject(ctx: ProxyContext, req: SwiftRequest): Promise<ClientAnswer> {
  if (req.method === 'COPY') rewriteCopyAsPut(req)
  if (req.headers['content-length'] !== undefined && req.headers['content-length'].trim() !== '0') {
    throw SwiftError.text(400, 'Copy requests require a zero byte body')
  }
  if (req.headers['transfer-encoding'] !== undefined) throw SwiftError.text(400, 'Copy requests require a zero byte body')
  const srcAccount = req.headers['x-copy-from-account'] !== undefined
    ? accountHeader(req.headers['x-copy-from-account'], 'Account') : req.account
  const [srcContainer, srcObj] = parseCopyPath(req.headers['x-copy-from']!, 'X-Copy-From')

  // The destination first: no point reading a source the caller may not write anywhere.
  const inm = req.headers['if-none-match']
  if (inm !== undefined && inm.trim() !== '*') throw SwiftError.text(400, 'If-None-Match only supports *')
  const ci = await writableContainer(ctx, req)

  const src: SwiftRequest = { ...req, method: 'GET', account: srcAccount, container: srcContainer, obj: srcObj, owner: false, body: undefined }
  const srcHeaders: Record<string, string> = { 'x-newest': 'true' }
  for (const k of ['range', 'if-match', 'if-modified-since', 'if-unmodified-since']) {
    if (req.headers[k] !== undefined) srcHeaders[k] = req.headers[k]
  }
  const source = await readObjectRaw(ctx, src, 'GET', backendHeaders(src, srcHeaders), true)
  if (source.status >= 300) return objectAnswer(src, source)
  const length = source.headers['content-length'] === undefined ? NaN : Number(source.headers['content-length'])
  if (!Number.isFinite(length) || length > CONSTRAINTS.max_file_size) {
    if (source.body instanceof Readable) source.body.destroy()
    throw SwiftError.status(413)
  }

  const sink: Record<string, string> = {}
  const fresh = isTrue(req.headers['x-fresh-metadata'])
  for (const k in source.headers) {
    if (k.startsWith('x-object-sysmeta-') || (!fresh && (isMeta(k) || KEPT.has(k)))) sink[k] = source.headers[k]
  }
  for (const k in req.headers) {
    if (k === 'content-length' || k === 'x-copy-from' || k === 'x-copy-from-account' || k === 'range' || k.startsWith('if-')) continue
    sink[k] = req.headers[k]
  }
  if (inm !== undefined) sink['if-none-match'] = inm
  // A whole-object copy is verified against the source's ETag; a ranged one cannot be.
  if (source.status === 200 && source.headers.etag) sink.etag = source.headers.etag.replace(/^"(.*)"$/, '$1')
  if (!req.headers['content-type']) sink['content-type'] = source.headers['content-type'] ?? 'application/octet-stream'

  const responseHeaders: Record<string, string> = {
    'x-copied-from-account': quote(srcAccount),
    'x-copied-from': quote(`${srcContainer}/${srcObj}`),
  }
  if (source.headers['last-modified']) responseHeaders['x-copied-from-last-modified'] = source.headers['last-modified']
  for (const k in sink) if (k.startsWith('x-object-meta-') || k === 'x-delete-at') responseHeaders[k] = sink[k]
  const body = Buffer.isBuffer(source.body) ? Readable.from([source.body]) : source.body
  try {
    return await storeObject(ctx, req, ci, { body, contentLength: length, headers: sink, responseHeaders })
  } finally {
    if (body && !body.readableEnded) body.destroy()
  }
}

/** COPY /a/c/o + Destination: c2/o2 [+ Destination-Account: a2] becomes PUT /a2/c2/o2 + X-Copy-From: /c/o. */
function rewriteCopyAsPut(req: SwiftRequest): void {
  const dest = req.headers.destination
  if (!dest) throw SwiftError.text(412, 'Destination header required')
  const source = `/${quote(req.container!)}/${quote(req.obj!)}`
  if (req.headers['destination-account'] !== undefined) {
    const account = accountHeader(req.headers['destination-account'], 'Account')
    req.headers['x-copy-from-account'] = quote(req.account)
    req.account = account
  }
  const [container, obj] = parseCopyPath(dest, 'Destination')
  req.method = 'PUT'
  req.container = container
  req.obj = obj
  req.headers['x-copy-from'] = source
  delete req.headers.destination
  delete req.headers['destination-account']
  delete req.headers['content-length']
}
