// The slo middleware: Static Large Objects, as Swift's middleware/slo.py. A manifest PUT with
// ?multipart-manifest=put (slo-put.ts), GET/HEAD of a manifest reading as the concatenation of
// its segments (slo-get.ts), DELETE ?multipart-manifest=delete removing the segments too
// (slo-delete.ts), and container listings showing each SLO's `slo_etag`. Clients may not set
// X-Static-Large-Object themselves.
import { pyJsonDumps } from '../storage/listing.ts'
import { SwiftError } from './errors.ts'
import { type Middleware, type SwiftHandler, answerBytes } from './pipeline.ts'
import type { ClientAnswer } from './request.ts'
import { sloDelete } from './slo-delete.ts'
import { type SloReadOptions, sloGetOrHead } from './slo-get.ts'
import { DEFAULT_MAX_MANIFEST_SEGMENTS, DEFAULT_MAX_MANIFEST_SIZE } from './slo-manifest.ts'
import { type SloWriteOptions, sloPut } from './slo-put.ts'

/** Options of the slo middleware (Swift's [filter:slo] settings, same defaults). */
export interface SloOptions extends Partial<SloReadOptions>, Partial<SloWriteOptions> {}

/** Listings above this size are passed on untouched (Swift's MAX_CONTAINER_LISTING_CONTENT_LENGTH). */
const MAX_LISTING_BYTES = 1024 * 1024 * 10

/** The slo middleware. */
export function sloMiddleware(opts: SloOptions = {}): Middleware {
  const o: SloReadOptions & SloWriteOptions = {
    maxManifestSegments: opts.maxManifestSegments ?? DEFAULT_MAX_MANIFEST_SEGMENTS,
    maxManifestSize: opts.maxManifestSize ?? DEFAULT_MAX_MANIFEST_SIZE,
    yieldFrequency: opts.yieldFrequency ?? 10,
    concurrency: opts.concurrency ?? 8,
    maxGetTimeMs: opts.maxGetTimeMs ?? 86_400_000,
    rateLimitUnderSize: opts.rateLimitUnderSize ?? 1024 * 1024,
    rateLimitAfterSegment: opts.rateLimitAfterSegment ?? 10,
    rateLimitSegmentsPerSec: opts.rateLimitSegmentsPerSec ?? 1,
  }
  return {
    name: 'slo',
    info: () => ({
      max_manifest_segments: o.maxManifestSegments,
      max_manifest_size: o.maxManifestSize,
      yield_frequency: o.yieldFrequency,
      // Swift reports 1 since segments of any size are allowed.
      min_segment_size: 1,
      allow_async_delete: false,
    }),
    wrap(next) {
      const self: SwiftHandler = async (req) => {
        if (req.container === undefined) return next(req)
        if (req.obj === undefined) return req.method === 'GET' ? containerListing(await next(req)) : next(req)
        const mm = req.query.get('multipart-manifest')
        if (req.method === 'PUT' && mm === 'put') return sloPut(self, next, req, o)
        if (req.method === 'DELETE' && mm === 'delete') return sloDelete(next, req, o)
        if (req.method === 'GET' || req.method === 'HEAD') return sloGetOrHead(next, req, o)
        if (req.headers['x-static-large-object'] !== undefined) {
          throw new SwiftError(400, Buffer.from('X-Static-Large-Object is a reserved header. To create a static large object ' +
            'add query param multipart-manifest=put.'), 'text/html; charset=UTF-8')
        }
        return next(req)
      }
      return self
    },
  }
}

/**
 * A container listing with each SLO's `slo_etag` taken out of the row's hash (where the
 * container-update override put it) into a field of its own, as Swift shows it; JSON and XML.
 */
async function containerListing(a: ClientAnswer): Promise<ClientAnswer> {
  const ctype = a.headers['content-type'] ?? ''
  const json = ctype.startsWith('application/json')
  const xml = ctype.startsWith('application/xml') || ctype.startsWith('text/xml')
  if (a.status !== 200 || !(json || xml) || a.body === undefined) return a
  const length = Buffer.isBuffer(a.body) ? a.body.length : Number(a.headers['content-length'] ?? NaN)
  if (!(length <= MAX_LISTING_BYTES)) return a
  const body = await answerBytes(a)
  if (!body.includes('slo_etag=')) return { ...a, body }
  const out = json ? rewriteJson(body) : rewriteXml(body)
  return { ...a, headers: { ...a.headers, 'content-length': String(out.length) }, body: out }
}

/** Splits "etag; k=v; slo_etag=x" into the hash without slo_etag, and x. */
function splitSloEtag(hash: string): [string, string | undefined] {
  const parts = hash.split(';')
  let slo: string | undefined
  const kept = [parts[0]!.trim()]
  for (const p of parts.slice(1)) {
    const eq = p.indexOf('=')
    const k = p.slice(0, eq).trim()
    const v = p.slice(eq + 1).trim()
    if (k === 'slo_etag') slo = v
    else if (eq > 0) kept.push(`${k}=${v}`)
  }
  return [kept.join('; '), slo]
}

function rewriteJson(body: Buffer): Buffer {
  let rows: Array<Record<string, unknown>>
  try { rows = JSON.parse(body.toString('utf8')) } catch { return body }
  if (!Array.isArray(rows)) return body
  for (const r of rows) {
    if (typeof r?.hash !== 'string') continue
    const [hash, slo] = splitSloEtag(r.hash)
    if (slo === undefined) continue
    r.hash = hash
    r.slo_etag = `"${slo}"`
  }
  return Buffer.from(pyJsonDumps(rows))
}

function rewriteXml(body: Buffer): Buffer {
  // Swift's listing_formats writes the extra field after the standard ones.
  return Buffer.from(body.toString('utf8').replace(/<object>(.*?)<\/object>/gs, (whole: string, inner: string) => {
    const m = /<hash>([^<]*)<\/hash>/.exec(inner)
    if (!m) return whole
    const [hash, slo] = splitSloEtag(m[1]!)
    if (slo === undefined) return whole
    return `<object>${inner.replace(m[0], `<hash>${hash}</hash>`)}<slo_etag>"${slo}"</slo_etag></object>`
  }))
}
