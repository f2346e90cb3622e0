// The dlo middleware: Dynamic Large Objects, as Swift's middleware/dlo.py. An object with
// X-Object-Manifest: <container>/<prefix> reads as the concatenation of the objects listed
// under that prefix, in listing order, each read through the pipeline with the caller's rights.
// Its ETag is the quoted MD5 of the segments' ETags and its size their sum, when the listing
// fits one page (10 000 names); a longer one streams without either, and a Range is honoured
// only when it can be resolved from the first page. ?multipart-manifest=get reads the manifest
// object itself. A PUT's X-Object-Manifest must name a container and a prefix.
import { createHash } from 'node:crypto'
import { parseRange, rangesForLength } from '../storage/object-read.ts'
import { CONSTRAINTS } from './constraints.ts'
import { SwiftError } from './errors.ts'
import { type Middleware, type SwiftHandler, answerBytes, discardAnswer, subrequest } from './pipeline.ts'
import type { ClientAnswer, SwiftRequest } from './request.ts'
import { largeObjectAnswer } from './slo-response.ts'
import { type SegmentPiece, SegmentError, rateLimited, streamPieces } from './slo-segments.ts'
import { answerOf, csvAppend, segmentFetcher } from './slo-subrequests.ts'

/** Options of the dlo middleware (Swift's [filter:dlo] settings, same defaults). */
export interface DloOptions {
  /** Longest a GET may stream, ms (max_get_time, 86400 s). */
  maxGetTimeMs?: number
  /** Segments read before pacing starts, and the pace (per second; 0: unpaced). */
  rateLimitAfterSegment?: number
  rateLimitSegmentsPerSec?: number
}

/** A row of a JSON container listing. */
interface Row { name: string; bytes: number; hash: string }

const BAD_MANIFEST = 'X-Object-Manifest must be in the format container/prefix'
const badRequest = (msg: string) => new SwiftError(400, Buffer.from(msg), 'text/html; charset=UTF-8')
const CONDITIONAL = ['if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since']

/** The dlo middleware. */
export function dloMiddleware(opts: DloOptions = {}): Middleware {
  const maxGetTimeMs = opts.maxGetTimeMs ?? 86_400_000
  const pace = { after: opts.rateLimitAfterSegment ?? 10, perSecond: opts.rateLimitSegmentsPerSec ?? 1 }
  return {
    name: 'dlo',
    info: () => ({ max_get_time: Math.floor(maxGetTimeMs / 1000) }),
    wrap(next) {
      return async (req) => {
        if (req.container === undefined || req.obj === undefined) return next(req)
        if ((req.method === 'GET' || req.method === 'HEAD') && req.query.get('multipart-manifest') !== 'get') {
          return dloGetOrHead(next, req, maxGetTimeMs, pace)
        }
        if (req.method === 'PUT' && req.headers['x-object-manifest'] !== undefined) checkManifestHeader(req.headers['x-object-manifest'])
        return next(req)
      }
    },
  }
}

/** Swift's _validate_x_object_manifest_header. */
function checkManifestHeader(value: string): void {
  const slash = value.indexOf('/')
  const container = slash < 0 ? '' : value.slice(0, slash)
  const prefix = slash < 0 ? '' : value.slice(slash + 1)
  if (!container || !prefix || value.includes('?') || value.includes('&') || prefix.startsWith('/')) throw badRequest(BAD_MANIFEST)
}

async function dloGetOrHead(next: SwiftHandler, req: SwiftRequest, maxGetTimeMs: number,
                            pace: { after: number; perSecond: number }): Promise<ClientAnswer> {
  const down: SwiftRequest = { ...req, headers: { ...req.headers,
    'x-backend-ignore-range-if-metadata-present': csvAppend(req.headers['x-backend-ignore-range-if-metadata-present'], 'x-object-manifest') } }
  let a = await next(down)
  req.owner = down.owner
  const manifest = a.headers['x-object-manifest']
  if (manifest === undefined) return a
  discardAnswer(a)
  // The manifest's own conditional answer doesn't count (the large object's ETag does), and
  // carries no Content-Type: its headers are read again without conditions.
  if (a.status === 304 || a.status === 412) {
    const headers: Record<string, string> = { ...down.headers }
    for (const h of CONDITIONAL) delete headers[h]
    a = await next({ ...down, method: 'HEAD', headers })
    if (a.headers['x-object-manifest'] === undefined) return a
    discardAnswer(a)
  }
  let value: string
  try { value = decodeURIComponent(manifest) } catch { value = manifest }
  const slash = value.indexOf('/')
  if (slash <= 0) throw badRequest(BAD_MANIFEST)
  const container = value.slice(0, slash)
  const prefix = value.slice(slash + 1)
  const limit = CONSTRAINTS.container_listing_limit

  const listing = async (marker: string): Promise<ClientAnswer | Row[]> => {
    const query: Record<string, string> = { prefix, format: 'json' }
    if (marker) query.marker = marker
    const l = await answerOf(next(subrequest(req, { method: 'GET', container, query, source: 'DLO' })))
    if (l.status < 200 || l.status >= 300) return l
    return JSON.parse((await answerBytes(l)).toString('utf8')) as Row[]
  }
  const page = await listing('')
  if (!Array.isArray(page)) return req.method === 'HEAD' ? { ...page, body: undefined } : page
  const complete = page.length < limit
  const pageBytes = page.reduce((n, r) => n + Number(r.bytes), 0)

  const headers: Record<string, string> = { ...a.headers }
  delete headers['content-length']
  delete headers['content-range']
  let etag = headers.etag
  if (complete) {
    const h = createHash('md5')
    for (const r of page) h.update(String(r.hash).replace(/^"(.*)"$/, '$1'))
    etag = h.digest('hex')
    headers.etag = `"${etag}"`
  }
  // A single range is served when the first page shows it is satisfiable (or the listing is
  // complete); otherwise the whole object (Swift ignores what it can't resolve cheaply).
  let size: number | undefined = complete ? pageBytes : undefined
  let ranges = false
  let answerReq = req
  const specs = parseRange(req.headers.range)
  if (specs && specs.length === 1) {
    const end = rangesForLength(specs, Number.MAX_SAFE_INTEGER)[0]?.[1] ?? Infinity
    if (complete || end < pageBytes) {
      if (!rangesForLength(specs, pageBytes).length) {
        const h: Record<string, string> = { 'accept-ranges': 'bytes' }
        if (complete) h['content-range'] = `bytes */${pageBytes}`
        throw SwiftError.status(416, h)
      }
      size = pageBytes
      ranges = true
    }
  }
  if (!ranges && req.headers.range !== undefined) {
    answerReq = { ...req, headers: { ...req.headers } }
    delete answerReq.headers.range
  }

  const fetch = segmentFetcher(next, req, 'DLO')
  const name = `/v1/${req.account}/${req.container}/${req.obj}`
  return largeObjectAnswer(answerReq, {
    headers, etag, size, ranges,
    open: (first, last) => {
      const pieces = rateLimited(dloPieces(page, first, last, container, listing), { perSecond: pace.perSecond, after: pace.after })
      return streamPieces(pieces, fetch, { name, expectedLength: last === undefined ? undefined : last - first + 1, maxGetTimeMs })
    },
  })
}

/** The listed segments covering bytes [first, last] (Swift's _segment_listing_iterator), paging on. */
async function* dloPieces(page: Row[], first: number, last: number | undefined, container: string,
                          listing: (marker: string) => Promise<ClientAnswer | Row[]>): AsyncGenerator<SegmentPiece> {
  let lastByte = last ?? Infinity
  let rows = page
  for (;;) {
    for (const r of rows) {
      const len = Number(r.bytes)
      if (first >= len) { first = Math.max(first - len, -1); lastByte = Math.max(lastByte - len, -1); continue }
      if (lastByte < 0) break
      yield { container, obj: r.name, first: Math.max(first, 0), last: lastByte >= len - 1 ? undefined : lastByte }
      first = Math.max(first - len, -1)
      lastByte = Math.max(lastByte - len, -1)
    }
    if (rows.length < CONSTRAINTS.container_listing_limit || lastByte < 0) return
    const more = await listing(rows[rows.length - 1]!.name)
    if (!Array.isArray(more)) {
      discardAnswer(more)
      throw new SegmentError(`Got status ${more.status} listing container /${container}`)
    }
    rows = more
  }
}
