// GET and HEAD of an SLO (Swift's SloGetContext). The request goes down with hints for the
// object server — compare conditionals with the SLO's ETag (X-Backend-Etag-Is-At) and ignore
// Range on manifests — so a manifest comes back whole and already judged against If-Match & co.
// Its sysmeta names the SLO's ETag and size, so a HEAD needs nothing more; a GET streams the
// segments (slo-pieces.ts → slo-segments.ts). ?multipart-manifest=get returns the stored
// manifest (as JSON, or with format=raw as the client PUT it); ?part-number=N one segment.
import { createHash } from 'node:crypto'
import { isTrue } from '../storage/storage-util.ts'
import { SwiftError } from './errors.ts'
import { KEEP_SYSMETA } from './object.ts'
import { type SwiftHandler, answerBytes, discardAnswer } from './pipeline.ts'
import type { ClientAnswer, SwiftRequest } from './request.ts'
import { SLO_ETAG, SLO_SIZE, type Segment, annotate, parseStoredManifest, rawManifest, sloEtag } from './slo-manifest.ts'
import { sloPieces, totalLength } from './slo-pieces.ts'
import { largeObjectAnswer } from './slo-response.ts'
import { rateLimited, streamPieces } from './slo-segments.ts'
import { csvAppend, downstream, manifestHeaders, segmentFetcher, subManifestFetcher, withoutSysmeta } from './slo-subrequests.ts'

/** Read-side settings of the slo middleware (Swift's, same defaults). */
export interface SloReadOptions {
  /** Longest a GET may stream, ms (max_get_time, 86400 s). */
  maxGetTimeMs: number
  /** Segments smaller than this are paced after the first `rateLimitAfterSegment` (1 MiB). */
  rateLimitUnderSize: number
  rateLimitAfterSegment: number
  /** Pace of small segments, per second (0: unpaced). */
  rateLimitSegmentsPerSec: number
}

/** An error with a body of its own, typed as swob's default (HTTPBadRequest(body=...)). */
const htmlError = (status: number, body: string) => new SwiftError(status, Buffer.from(body), 'text/html; charset=UTF-8')

/** Swift's get_valid_part_num: the ?part-number of a GET/HEAD of an SLO, or undefined. */
function partNumber(req: SwiftRequest): number | undefined {
  const v = req.query.get('part-number')
  if (v === null) return undefined
  if (!/^\s*[+-]?\d+\s*$/.test(v) || Number(v) <= 0) throw htmlError(400, 'Part number must be an integer greater than 0')
  if (req.headers.range !== undefined) throw htmlError(400, 'Range requests are not supported with part number queries')
  return Number(v)
}

/** Handles GET/HEAD of an object that may be an SLO manifest. */
export async function sloGetOrHead(next: SwiftHandler, req: SwiftRequest, o: SloReadOptions): Promise<ClientAnswer> {
  const manifestGet = req.query.get('multipart-manifest') === 'get'
  const hints: Record<string, string> = {}
  if (!manifestGet) {
    hints['x-backend-etag-is-at'] = csvAppend(req.headers['x-backend-etag-is-at'], SLO_ETAG)
    hints['x-backend-ignore-range-if-metadata-present'] = csvAppend(req.headers['x-backend-ignore-range-if-metadata-present'], 'x-static-large-object')
  }
  const down = downstream(req, hints)
  let a = await next(down)
  req.owner = down.owner
  if (!isTrue(a.headers['x-static-large-object'])) return withoutSysmeta(req, a)
  if (manifestGet) return manifestAnswer(next, req, down, a)

  let part: number | undefined
  try { part = partNumber(req) } catch (err) { discardAnswer(a); throw err }
  let etag = a.headers[SLO_ETAG] ?? ''
  let size = /^\d+$/.test(a.headers[SLO_SIZE] ?? '') ? Number(a.headers[SLO_SIZE]) : -1
  const legacy = !etag || size < 0
  // A HEAD (or an unmet condition) of a manifest with its ETag and size in sysmeta needs no
  // segments; otherwise the manifest is read, refetched whole when the answer had no body.
  const needSegments = req.method === 'HEAD' ? legacy || part !== undefined
    : (a.status === 304 || a.status === 412) ? legacy : true
  if (needSegments && (req.method === 'HEAD' || a.status !== 200)) {
    discardAnswer(a)
    a = await next({ ...down, method: 'GET', headers: { ...hints, [KEEP_SYSMETA]: 'true' } })
    if (!isTrue(a.headers['x-static-large-object'])) return withoutSysmeta(req, a)
  }
  let segments: Segment[] = []
  if (needSegments) {
    segments = annotate(parseStoredManifest(await answerBytes(a)))
    if (legacy) { etag = sloEtag(segments.map((s) => s.row)); size = totalLength(segments) }
  } else discardAnswer(a) // a HEAD's, or an unmet condition's

  const headers: Record<string, string> = { ...manifestHeaders(req, a), etag: `"${etag}"`, 'x-manifest-etag': a.headers.etag ?? '' }
  if (a.status === 304 || a.status === 412) return { status: a.status, headers: { ...headers, 'content-length': '0' } }
  let answerReq = req
  if (part !== undefined) {
    headers['x-parts-count'] = String(segments.length)
    if (part > segments.length) {
      const body = req.method === 'HEAD' ? undefined : Buffer.from('The requested part number is not satisfiable')
      return { status: 416, headers: { ...headers, 'content-range': `bytes */${size}`, 'content-length': String(body?.length ?? 0) }, body }
    }
    let start = 0
    for (const s of segments.slice(0, part - 1)) start += s.length
    const end = start + segments[part - 1]!.length - 1
    if (req.method === 'HEAD') {
      // A part's HEAD is a 206 with the part's length (RFC 9110 ignores Range on HEAD; this is no Range).
      return { status: 206, headers: { ...headers, 'accept-ranges': 'bytes', 'content-length': String(end - start + 1),
        'content-range': `bytes ${start}-${end}/${size}` } }
    }
    answerReq = { ...req, headers: { ...req.headers, range: `bytes=${start}-${end}` } }
  }
  const name = `/v1/${req.account}/${req.container}/${req.obj}`
  const fetch = segmentFetcher(next, req, 'SLO')
  const fetchSub = subManifestFetcher(next, req, name)
  return largeObjectAnswer(answerReq, {
    headers, etag, size, ranges: true,
    open: (first, last) => {
      const end = last ?? size - 1
      const pieces = rateLimited(sloPieces(segments, [[first, end]], fetchSub, name), {
        perSecond: o.rateLimitSegmentsPerSec, after: o.rateLimitAfterSegment,
        when: (p) => !('data' in p) && (p.size ?? 0) < o.rateLimitUnderSize,
      })
      return streamPieces(pieces, fetch, { name, expectedLength: end - first + 1, maxGetTimeMs: o.maxGetTimeMs })
    },
  })
}

/** ?multipart-manifest=get of a manifest: the stored JSON, or (format=raw) the PUT-able form. */
async function manifestAnswer(next: SwiftHandler, req: SwiftRequest, down: SwiftRequest, a: ClientAnswer): Promise<ClientAnswer> {
  const headers = manifestHeaders(req, a)
  if (a.status !== 200) return { ...a, headers }
  if (req.query.get('format') !== 'raw') return { ...a, headers: { ...headers, 'content-type': 'application/json; charset=utf-8' } }
  // The raw form keeps the manifest's Content-Type (so it can be PUT back, e.g. by a copy).
  if (req.method === 'HEAD') a = await next({ ...down, method: 'GET' })
  const raw = rawManifest(parseStoredManifest(await answerBytes(a)))
  return { status: 200, headers: { ...headers, 'content-length': String(raw.length), etag: createHash('md5').update(raw).digest('hex') },
    body: req.method === 'HEAD' ? undefined : raw }
}
