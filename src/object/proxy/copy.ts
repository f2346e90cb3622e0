// The copy middleware: server-side copy, as Swift's middleware/copy.py. `COPY` with
// Destination[-Account] becomes a PUT with X-Copy-From[-Account]; the source is read through
// the rest of the pipeline like a client GET (so a large object is copied whole, or with
// ?multipart-manifest=get its manifest is, and becomes a manifest again), and its body streams
// into the destination PUT, which also goes down the pipeline (quotas, slo, dlo, versioning
// see it). The source's metadata is kept unless X-Fresh-Metadata says otherwise.
import { Readable } from 'node:stream'
import { isTrue } from '../storage/storage-util.ts'
import { CONSTRAINTS } from './constraints.ts'
import type { ProxyContext } from './context.ts'
import { SwiftError } from './errors.ts'
import { KEEP_SYSMETA, writableContainer } from './object.ts'
import { type Middleware, type SwiftHandler, discardAnswer, subrequest } from './pipeline.ts'
import type { ClientAnswer, SwiftRequest } from './request.ts'
import { heartbeatBody, resultBody, resultFormat, statusLine } from './slo-format.ts'
import { SLO_ETAG, SLO_SIZE } from './slo-manifest.ts'
import { answerOf, withoutSysmeta } from './slo-subrequests.ts'
import { quote } from './storage-client.ts'

/** Source headers a copy keeps besides metadata: what objects store (Swift's allowed_headers). */
const KEPT = new Set(['x-delete-at', 'content-disposition', 'content-encoding', 'cache-control', 'content-language', 'expires', 'x-robots-tag'])
const isMeta = (k: string) => k.startsWith('x-object-meta-') || k.startsWith('x-object-sysmeta-') || k.startsWith('x-object-transient-sysmeta-')
/** Client headers that describe the source read, not the destination. */
const SOURCE_ONLY = new Set(['content-length', 'x-copy-from', 'x-copy-from-account', 'range', 'x-newest', 'x-fresh-metadata'])
const OVERRIDE_PREFIX = 'x-object-sysmeta-container-update-override-'

/** Options of the copy middleware. */
export interface CopyOptions {
  /** Seconds between heartbeats of a ?heartbeat=on copy (Swift's yield_frequency). */
  yieldFrequency?: number
}

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

/** An account named in a header (Destination-Account, X-Copy-From-Account); 412 when not a name (check_account_format). */
function accountHeader(value: string, header: string): string {
  let v: string
  try { v = decodeURIComponent(value) } catch { v = value }
  if (!v) throw SwiftError.text(412, `${header} name cannot be empty`)
  if (v.includes('/')) throw SwiftError.text(412, `${header} name cannot contain slashes`)
  return v
}

/** The copy middleware. */
export function copyMiddleware(opts: CopyOptions = {}): Middleware {
  const yieldFrequency = opts.yieldFrequency ?? 10
  return {
    name: 'copy',
    wrap(next, ctx) {
      return async (req) => {
        if (req.container === undefined || req.obj === undefined) return next(req)
        if (req.method === 'COPY') return copy(ctx, next, rewriteCopyAsPut(req), yieldFrequency)
        if (req.method === 'PUT' && req.headers['x-copy-from']) return copy(ctx, next, req, yieldFrequency)
        if (req.method === 'OPTIONS') return withCopyAllowed(await next(req))
        return next(req)
      }
    },
  }
}

/** An object's OPTIONS answer lists COPY among its methods (Swift's handle_OPTIONS_request). */
function withCopyAllowed(a: ClientAnswer): ClientAnswer {
  if (a.status < 200 || a.status >= 300) return a
  const headers = { ...a.headers }
  for (const k of ['allow', 'access-control-allow-methods']) {
    if (headers[k] !== undefined && !headers[k].includes('COPY')) headers[k] += ', COPY'
  }
  return { ...a, headers }
}

/** COPY /a/c/o + Destination: c2/o2 [+ Destination-Account: a2] becomes PUT /a2/c2/o2 + X-Copy-From: /c/o. */
function rewriteCopyAsPut(req: SwiftRequest): SwiftRequest {
  const dest = req.headers.destination
  if (!dest) throw SwiftError.text(412, 'Destination header required')
  const headers = { ...req.headers }
  let account = req.account
  if (headers['destination-account'] !== undefined) {
    account = accountHeader(headers['destination-account'], 'Account')
    headers['x-copy-from-account'] = quote(req.account)
  }
  const [container, obj] = parseCopyPath(dest, 'Destination')
  headers['x-copy-from'] = `/${quote(req.container!)}/${quote(req.obj!)}`
  delete headers.destination
  delete headers['destination-account']
  delete headers['content-length']
  return { ...req, method: 'PUT', account, container, obj, headers }
}

/** PUT with X-Copy-From: read the source through the pipeline, then PUT it at the destination. */
async function copy(ctx: ProxyContext, next: SwiftHandler, req: SwiftRequest, yieldFrequency: number): Promise<ClientAnswer> {
  if ((req.headers['content-length'] !== undefined && req.headers['content-length'].trim() !== '0') || req.headers['transfer-encoding'] !== undefined) {
    throw SwiftError.text(400, 'Copy requests require a zero byte body')
  }
  const srcAccount = req.headers['x-copy-from-account'] !== undefined ? accountHeader(req.headers['x-copy-from-account'], 'Account') : req.account
  const [srcContainer, srcObj] = parseCopyPath(req.headers['x-copy-from']!, 'X-Copy-From')
  const inm = req.headers['if-none-match']
  if (inm !== undefined && inm.trim() !== '*') throw SwiftError.text(400, 'If-None-Match only supports *')
  // The destination first: no point reading a source the caller may not write anywhere.
  await writableContainer(ctx, req)

  // The source, read as the client would (conditions and ranges apply to it); with
  // ?multipart-manifest=get a manifest is read in the form it can be PUT back in.
  const manifestCopy = req.query.get('multipart-manifest') === 'get'
  const srcHeaders: Record<string, string> = { 'x-newest': 'true', [KEEP_SYSMETA]: 'true' }
  for (const k of ['range', 'if-match', 'if-modified-since', 'if-unmodified-since']) if (req.headers[k] !== undefined) srcHeaders[k] = req.headers[k]
  const srcQuery = new URLSearchParams(req.query)
  srcQuery.delete('heartbeat')
  if (manifestCopy) srcQuery.set('format', 'raw')
  const srcReq = subrequest(req, { method: 'GET', account: srcAccount, container: srcContainer, obj: srcObj, query: srcQuery, headers: srcHeaders, source: 'SSC' })
  const source = await next(srcReq)
  if (source.status >= 300) return withoutSysmeta(req, source)
  const length = source.headers['content-length'] === undefined ? NaN : Number(source.headers['content-length'])
  if (!Number.isFinite(length) || length > CONSTRAINTS.max_file_size) {
    discardAnswer(source)
    throw SwiftError.status(413)
  }
  const sh = source.headers
  const isSlo = sh['x-static-large-object'] !== undefined
  const isDlo = sh['x-object-manifest'] !== undefined

  const sink: Record<string, string> = {}
  const fresh = isTrue(req.headers['x-fresh-metadata'])
  for (const k in sh) if (k.startsWith('x-object-sysmeta-') || (!fresh && (isMeta(k) || KEPT.has(k)))) sink[k] = sh[k]
  for (const k in req.headers) if (!SOURCE_ONLY.has(k) && !k.startsWith('if-')) sink[k] = req.headers[k]
  if (inm !== undefined) sink['if-none-match'] = inm
  const sinkQuery = new URLSearchParams(req.query)
  // ?version-id names the source's version; the copy is a new object (Swift's copy.py drops it).
  const srcVersion = sinkQuery.get('version-id')
  sinkQuery.delete('version-id')
  if (manifestCopy) {
    if (isSlo) sinkQuery.set('multipart-manifest', 'put')
    if (isDlo) { sinkQuery.delete('multipart-manifest'); sink['x-object-manifest'] = sh['x-object-manifest'] }
  }
  if (!(manifestCopy && isSlo)) {
    // A flattened SLO is a plain object: the SLO's own sysmeta stays behind.
    delete sink[SLO_ETAG]
    delete sink[SLO_SIZE]
  }
  // The content is verified against the source's ETag when that is its MD5: not for a range,
  // nor an SLO or DLO (their ETag is not the body's), nor a manifest PUT (SLO makes its own).
  if (source.status === 200 && !isSlo && (!isDlo || manifestCopy) && sh.etag) sink.etag = sh.etag.replace(/^"(.*)"$/, '$1')
  else for (const k in sink) if (k.startsWith(OVERRIDE_PREFIX)) delete sink[k]
  if (!req.headers['content-type']) sink['content-type'] = sh['content-type'] ?? 'application/octet-stream'
  sink['content-length'] = String(length)

  const extra: Record<string, string> = { 'x-copied-from-account': quote(srcAccount), 'x-copied-from': quote(`${srcContainer}/${srcObj}`) }
  if (sh['last-modified']) extra['x-copied-from-last-modified'] = sh['last-modified']
  if (srcVersion !== null) extra['x-copied-from-version-id'] = srcVersion
  for (const k in sink) if (k.startsWith('x-object-meta-') || k === 'x-delete-at') extra[k] = sink[k]
  const body = source.body === undefined ? Readable.from([]) : Buffer.isBuffer(source.body) ? Readable.from([source.body]) : source.body
  const put = async (): Promise<ClientAnswer> => {
    try {
      const a = await answerOf(next({ ...req, query: sinkQuery, headers: sink, body, source: 'SSC' }))
      return a.status >= 200 && a.status < 300 ? { ...a, headers: { ...a.headers, ...extra } } : a
    } finally {
      if (!body.readableEnded) body.destroy()
    }
  }
  if (!isTrue(req.query.get('heartbeat') ?? undefined)) return put()
  // Swift's copy answers heartbeats in text or JSON only.
  const fmt = resultFormat(req.headers.accept, 'text/plain') === 'application/json' ? 'application/json' : 'text/plain'
  const work = put().then((a) => {
    const result: Record<string, string> = { 'Response Status': statusLine(a.status),
      'Response Body': Buffer.isBuffer(a.body) ? a.body.toString() : '' }
    for (const k in extra) result[k] = extra[k]
    for (const k in a.headers) if (!k.startsWith('x-object-sysmeta-') && !k.startsWith('x-backend')) result[k] = a.headers[k]
    const errors: Array<[string, string]> = a.status >= 200 && a.status < 300 ? [] : [[extra['x-copied-from']!, statusLine(a.status)]]
    return resultBody(fmt, result, errors, 'copy')
  })
  return { status: 202, headers: { 'content-type': fmt }, body: await heartbeatBody(work, { everySeconds: yieldFrequency, first: Buffer.from(' ') }) }
}
