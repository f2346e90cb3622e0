// GET and HEAD of an opened object, with swob's conditional-response rules: If-Match /
// If-None-Match / If-Modified-Since / If-Unmodified-Since (304/412), single ranges (206),
// multiple ranges (multipart/byteranges) and unsatisfiable ranges (416).
import { randomBytes } from 'node:crypto'
import { Readable, finished } from 'node:stream'
import type { BackendResponse } from './backend.ts'
import type { OpenObject } from './open-object.ts'
import { httpDate, parseHttpDate } from './storage-util.ts'

/** Swift's limits on multi-range requests (swob.MAX_RANGES etc., after RFC 7233 §6.1). */
const MAX_RANGES = 50
const MAX_RANGE_OVERLAPS = 2
const MAX_NONASCENDING_RANGES = 8

/** A byte-range-spec: start and inclusive end, either side possibly absent (`-500`, `9500-`). */
type RangeSpec = [number | null, number | null]

/** Parses a Range header as swob.Range; null when syntactically invalid (then it is ignored). */
export function parseRange(value: string | undefined): RangeSpec[] | null {
  if (!value) return null
  const v = value.replace(/ /g, '')
  if (!v.toLowerCase().startsWith('bytes=')) return null
  const out: RangeSpec[] = []
  for (const r of v.slice(6).split(',')) {
    const dash = r.indexOf('-')
    if (dash < 0) return null
    const a = r.slice(0, dash)
    const b = r.slice(dash + 1)
    if (a && !/^\d+$/.test(a)) return null
    if (b && !/^\d+$/.test(b)) return null
    const start = a ? Number(a) : null
    const end = b ? Number(b) : null
    if (start === null && end === null) return null
    if (start !== null && end !== null && end < start) return null
    out.push([start, end])
  }
  return out
}

/**
 * Half-open ranges satisfiable for `length` (swob's ranges_for_length): [] means 416, and
 * egregious sets (too many, overlapping, out of order) also come back as [].
 */
export function rangesForLength(specs: RangeSpec[], length: number): [number, number][] {
  const all: [number, number][] = []
  for (const [begin, end] of specs) {
    if (begin === null) {
      const e = end as number
      if (e === 0) continue
      all.push(e > length ? [0, length] : [length - e, length])
      continue
    }
    if (begin >= length) continue
    all.push([begin, end === null ? length : Math.min(end + 1, length)])
  }
  if (all.length > MAX_RANGES) return []
  let overlaps = 0
  for (let i = 0; i < all.length; i++) {
    for (let j = i + 1; j < all.length; j++) {
      const [s1, e1] = all[i]
      const [s2, e2] = all[j]
      if ((s1 < s2 && s2 < e1) || (s1 < e2 && e2 < e1) || (s2 < s1 && s1 < e2) || (s2 < e1 && e1 < e2)) {
        if (++overlaps > MAX_RANGE_OVERLAPS) return []
      }
    }
  }
  let ascending = true
  for (let i = 1; i < all.length; i++) {
    if (all[i - 1][0] > all[i][0] || (all[i - 1][0] === all[i][0] && all[i - 1][1] > all[i][1])) { ascending = false; break }
  }
  if (!ascending && all.length >= MAX_NONASCENDING_RANGES) return []
  return all
}

/** Entity tags of an If-Match / If-None-Match header (quotes removed), or null when absent. */
export function parseMatch(value: string | undefined): Set<string> | null {
  if (value === undefined) return null
  const tags = new Set<string>()
  for (let t of value.split(',')) {
    t = t.trim()
    if (!t) continue
    if (t.length > 1 && t.startsWith('"') && t.endsWith('"')) t = t.slice(1, -1)
    tags.add(t)
  }
  return tags
}

const matches = (tags: Set<string>, etag: string) => tags.has('*') || tags.has(etag)

/** swob's conditional status for a found object: 304, 412, or null to serve it. */
export function conditionalStatus(headers: Record<string, string>, etag: string, lastModified: number): 304 | 412 | null {
  const inm = parseMatch(headers['if-none-match'])
  if (etag && inm && matches(inm, etag)) return 304
  const im = parseMatch(headers['if-match'])
  if (etag && im && !matches(im, etag)) return 412
  const ims = parseHttpDate(headers['if-modified-since'])
  if (ims !== null && lastModified <= ims) return 304
  const ius = parseHttpDate(headers['if-unmodified-since'])
  if (ius !== null && lastModified > ius) return 412
  return null
}

/** The ETag conditional requests compare against (X-Backend-Etag-Is-At names metadata keys to try first). */
export function conditionalEtag(headers: Record<string, string>, metadata: Record<string, string>, etag: string): string {
  const at = headers['x-backend-etag-is-at']
  if (!at) return etag
  const lower = new Map(Object.entries(metadata).map(([k, v]) => [k.toLowerCase(), v]))
  for (const name of at.split(',')) {
    const v = lower.get(name.trim().toLowerCase())
    if (v !== undefined) return v.replace(/^"(.*)"$/, '$1')
  }
  return etag
}

/** Whether X-Backend-Ignore-Range-If-Metadata-Present names a key the object has (SLO manifests). */
function ignoreRange(headers: Record<string, string>, metadata: Record<string, string>): boolean {
  const names = headers['x-backend-ignore-range-if-metadata-present']
  if (!names) return false
  const keys = new Set(Object.keys(metadata).map((k) => k.toLowerCase()))
  return names.split(',').some((n) => keys.has(n.trim().toLowerCase()))
}

/** Closes the object once the body stream is finished or abandoned. */
function closingWith(obj: OpenObject, body: Readable): Readable {
  // finished() also fires on a plain 'end': body readers are not auto-destroyed (they share the handle).
  finished(body, () => { void obj.close() })
  return body
}

/** Multipart/byteranges body (swob's multi_range_iterator), streamed part by part. */
function multipartBody(obj: OpenObject, ranges: [number, number][], ctype: string, boundary: string): { body: Readable; length: number } {
  const size = obj.size
  const heads = ranges.map(([s, e]) => Buffer.from(`--${boundary}\r\nContent-Type: ${ctype}\r\nContent-Range: bytes ${s}-${e - 1}/${size}\r\n\r\n`, 'latin1'))
  const crlf = Buffer.from('\r\n')
  const tail = Buffer.from(`--${boundary}--`)
  let length = tail.length
  ranges.forEach(([s, e], i) => { length += heads[i].length + (e - s) + 2 })
  async function* parts(): AsyncGenerator<Buffer> {
    for (let i = 0; i < ranges.length; i++) {
      yield heads[i]
      for await (const c of obj.read({ start: ranges[i][0], end: ranges[i][1] })) yield c as Buffer
      yield crlf
    }
    yield tail
  }
  return { body: Readable.from(parts(), { objectMode: false }), length }
}

/** Read-path knobs (see ObjectServerOptions). */
export interface ReadPolicy {
  /** Percent of complete GETs whose md5 is checked (Swift's etag_validate_pct). */
  etagValidatePct: number
  /** Complete GETs of larger objects are not checked inline (the auditor covers them). */
  etagValidateMaxBytes: number
}

/**
 * Answers GET/HEAD for an open object, given the headers describing it. Takes ownership of
 * `obj`: it is closed when the response body ends (or now, when there is none).
 */
export async function readResponse(method: 'GET' | 'HEAD', reqHeaders: Record<string, string>, obj: OpenObject,
                                   headers: Record<string, string>, policy: ReadPolicy): Promise<BackendResponse> {
  const size = obj.size
  const status = conditionalStatus(reqHeaders, conditionalEtag(reqHeaders, obj.metadata, obj.etag), obj.timestamp.ceil())
  if (status !== null) {
    await obj.close()
    return { status, headers: { ...headers, 'content-length': '0' } }
  }
  if (method === 'HEAD') {
    await obj.close()
    return { status: 200, headers }
  }
  const specs = ignoreRange(reqHeaders, obj.metadata) ? null : parseRange(reqHeaders.range)
  if (specs && specs.length) {
    const ranges = rangesForLength(specs, size)
    if (!ranges.length) {
      await obj.close()
      const body = Buffer.from('<html><h1>Requested Range Not Satisfiable</h1><p>The Range requested is not available.</p></html>')
      return { status: 416, headers: { ...headers, 'content-range': `bytes */${size}`, 'content-type': 'text/html; charset=UTF-8', 'content-length': String(body.length) }, body }
    }
    if (size > 0 && ranges.length === 1) {
      const [s, e] = ranges[0]
      const h = { ...headers, 'content-range': `bytes ${s}-${e - 1}/${size}`, 'content-length': String(e - s) }
      if (obj.inline) { await obj.close(); return { status: 206, headers: h, body: obj.inline.subarray(s, e) } }
      return { status: 206, headers: h, body: closingWith(obj, obj.read({ start: s, end: e })) }
    }
    if (size > 0) {
      const boundary = randomBytes(16).toString('hex')
      const { body, length } = multipartBody(obj, ranges, headers['content-type'], boundary)
      const h = { ...headers, 'content-type': `multipart/byteranges;boundary=${boundary}`, 'content-length': String(length) }
      return { status: 206, headers: h, body: closingWith(obj, body) }
    }
  }
  const verify = size <= policy.etagValidateMaxBytes &&
    (policy.etagValidatePct >= 100 || Math.random() * 100 < policy.etagValidatePct)
  if (obj.inline) {
    await obj.close()
    // A corrupt small object is caught before any byte is sent: the client gets a 404.
    if (verify && !(await obj.verifyInline())) return { status: 404, headers: { 'content-length': '0' } }
    return { status: 200, headers, body: obj.inline }
  }
  return { status: 200, headers, body: closingWith(obj, obj.read({ verify })) }
}

/** Response headers describing an object (Swift's object GET/HEAD). */
export function objectHeaders(obj: OpenObject, isServed: (lowerName: string) => boolean): Record<string, string> {
  const h: Record<string, string> = { 'content-type': obj.metadata['Content-Type'] ?? 'application/octet-stream' }
  for (const k in obj.metadata) {
    const lk = k.toLowerCase()
    if (isServed(lk)) h[lk] = obj.metadata[k]
  }
  h.etag = `"${obj.etag}"`
  h['last-modified'] = httpDate(obj.timestamp.ceil())
  h['content-length'] = String(obj.size)
  h['x-timestamp'] = obj.timestamp.normal
  h['x-backend-timestamp'] = obj.timestamp.internal
  h['x-backend-data-timestamp'] = obj.dataTimestamp.internal
  h['x-backend-durable-timestamp'] = obj.dataTimestamp.internal
  return h
}
