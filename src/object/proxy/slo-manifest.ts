// Static Large Object manifests (Swift's middleware/slo.py): what a client PUTs with
// ?multipart-manifest=put, how it is validated, the stored form, the SLO's ETag, and the raw
// (PUT-able) form ?multipart-manifest=get&format=raw gives back. The S3 layer's multipart
// manifests are stored in the same form (s3-manifest.ts), so Swift and S3 read each other's.
import { createHash } from 'node:crypto'
import { extractSwiftBytes } from '../storage/container-rows.ts'
import { pyJsonDumps } from '../storage/listing.ts'
import { parseRange, rangesForLength } from '../storage/object-read.ts'
import { SwiftError } from './errors.ts'

/** Object sysmeta of a manifest: the SLO's ETag (what clients see and conditionals compare). */
export const SLO_ETAG = 'x-object-sysmeta-slo-etag'
/** Object sysmeta of a manifest: the SLO's total size. */
export const SLO_SIZE = 'x-object-sysmeta-slo-size'
/** Swift's default limits (published under /info "slo"). */
export const DEFAULT_MAX_MANIFEST_SEGMENTS = 1000
export const DEFAULT_MAX_MANIFEST_SIZE = 8 * 1024 * 1024
/** Deepest nesting of SLOs a GET follows (Swift's max_slo_recursion_depth). */
export const MAX_SLO_RECURSION_DEPTH = 10

/** One row of a stored manifest (Swift's JSON keys): an object-backed segment or inline data. */
export interface SloRow {
  name?: string
  bytes?: number
  hash?: string
  content_type?: string
  last_modified?: string
  /** Inclusive "first-last" within the segment object. */
  range?: string
  /** The segment is itself an SLO manifest. */
  sub_slo?: boolean
  /** Base64 inline data (a data segment). */
  data?: string
}

/** A stored row with its length in the large object, and inline data decoded. */
export interface Segment {
  row: SloRow
  /** Bytes this segment contributes. */
  length: number
  /** Decoded inline data (data segments). */
  raw?: Buffer
}

/** A validated segment of a client's manifest: an object path to check, or inline data. */
export type InputSegment =
  | { path: string; etag?: string | null; sizeBytes?: number; range?: string }
  | { data: string }

const md5hex = (b: Buffer | string) => createHash('md5').update(b).digest('hex')

/** Python's urllib quote with safe='/' (how Swift names segments in its error lists). */
export function pyQuote(s: string): string {
  return encodeURIComponent(s).replace(/%2F/g, '/').replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())
}

/** Swift's strict_b64decode: base64 (padding optional) with nothing but base64 characters; null if invalid. */
export function strictB64(value: unknown): Buffer | null {
  if (typeof value !== 'string') return null
  const core = value.replace(/^=+|=+$/g, '')
  if (!/^[A-Za-z0-9+/]*$/.test(core) || core.length % 4 === 1) return null
  return Buffer.from(core, 'base64')
}

function badRequest(message: string, contentType = 'text/html; charset=UTF-8'): SwiftError {
  return new SwiftError(400, Buffer.from(message), contentType)
}

/** A size_bytes value as Python's int(): integers and integral strings; NaN otherwise. */
function pyInt(v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v)
  if (typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v)) return Number(v)
  if (typeof v === 'boolean') return v ? 1 : 0
  return NaN
}

/**
 * Parses and checks a manifest PUT body (Swift's parse_and_validate_input); `self` is
 * "<container>/<object>" of the manifest. Throws 400 listing every bad index.
 */
export function parseManifestInput(body: Buffer, self: string): InputSegment[] {
  let parsed: unknown
  try { parsed = JSON.parse(body.toString('utf8')) } catch { throw badRequest('Manifest must be valid JSON.\n') }
  if (!Array.isArray(parsed)) throw badRequest('Manifest must be a list.\n')
  const errors: string[] = []
  const out: InputSegment[] = []
  parsed.forEach((seg: unknown, i) => {
    const err = (m: string) => { errors.push(`Index ${i}: ${m}`) }
    if (typeof seg !== 'object' || seg === null || Array.isArray(seg)) return err('not a JSON object')
    const d = seg as Record<string, unknown>
    const type = 'data' in d ? 'data' : 'path' in d ? 'path' : undefined
    if (!type) return err("expected keys to include one of 'data' or 'path'")
    const allowed = type === 'data' ? ['data'] : ['path', 'range', 'etag', 'size_bytes']
    const extra = Object.keys(d).filter((k) => !allowed.includes(k)).sort()
    if (extra.length) return err(`extraneous keys ${extra.map((k) => JSON.stringify(k)).join(', ')}`)
    if (type === 'data') {
      const data = strictB64(d.data)
      if (!data) return err('data must be valid base64')
      if (data.length < 1) return err('too small; each segment must be at least 1 byte.')
      out.push({ data: data.toString('base64') })
      return
    }
    if (typeof d.path !== 'string') return err('"path" must be a string')
    if (!(d.etag === undefined || d.etag === null || typeof d.etag === 'string')) return err('"etag" must be a string or null (if provided)')
    if (!d.path.replace(/^\/+|\/+$/g, '').includes('/')) {
      return err('path does not refer to an object. Path must be of the form /container/object.')
    }
    let sizeBytes: number | undefined
    if (d.size_bytes !== undefined && d.size_bytes !== null) {
      sizeBytes = pyInt(d.size_bytes)
      if (Number.isNaN(sizeBytes)) return err('invalid size_bytes')
      if (sizeBytes < 1 && i !== parsed.length - 1) return err('too small; each segment must be at least 1 byte.')
    }
    if (d.path.replace(/^\/+/, '') === self) return err('manifest must not include itself as a segment')
    let range: string | undefined
    if (d.range !== undefined && d.range !== null && d.range !== '') {
      const specs = typeof d.range === 'string' || typeof d.range === 'number' ? parseRange(`bytes=${d.range}`) : null
      if (!specs) return err('invalid range')
      if (specs.length > 1) return err('multiple ranges (only one allowed)')
      // With a size given, satisfiability is known now; a wrong size fails later anyway.
      if (sizeBytes !== undefined && rangesForLength(specs, sizeBytes).length !== 1) return err('unsatisfiable range')
      range = String(d.range)
    }
    out.push({ path: d.path, etag: d.etag as string | null | undefined, sizeBytes, range })
  })
  if (parsed.length && out.length === parsed.length && out.every((s) => 'data' in s)) {
    errors.push('Inline data segments require at least one object-backed segment.')
  }
  if (errors.length) throw badRequest(errors.map((e) => e + '\n').join(''), 'text/plain')
  return out
}

/** The stored manifest's rows; 500 when the body is not a manifest (Swift's "Unable to load SLO manifest"). */
export function parseStoredManifest(body: Buffer): SloRow[] {
  let rows: unknown
  try { rows = JSON.parse(body.toString('utf8')) } catch { rows = undefined }
  if (!Array.isArray(rows) || rows.some((r) => typeof r !== 'object' || r === null)) {
    throw SwiftError.text(500, 'Unable to load SLO manifest')
  }
  return rows as SloRow[]
}

/** The rows with their lengths (Swift's _annotate_segments); a sub-SLO's size may sit in its content type. */
export function annotate(rows: readonly SloRow[]): Segment[] {
  return rows.map((row) => {
    if (row.data !== undefined) {
      const raw = Buffer.from(row.data, 'base64')
      return { row, length: raw.length, raw }
    }
    let r = row
    if (row.sub_slo && row.content_type) {
      const [ctype, swiftBytes] = extractSwiftBytes(row.content_type)
      if (swiftBytes !== undefined && /^\d+$/.test(swiftBytes)) r = { ...row, content_type: ctype, bytes: Number(swiftBytes) }
    }
    if (r.range) {
      const [a, b] = r.range.split('-').map(Number)
      return { row: r, length: b! - a! + 1 }
    }
    return { row: r, length: Number(r.bytes ?? 0) }
  })
}

/** An SLO's ETag: MD5 of its segments' ETags ("etag:range;" for ranged ones, MD5 of inline data). */
export function sloEtag(rows: readonly SloRow[]): string {
  const h = createHash('md5')
  for (const r of rows) {
    if (r.data !== undefined) h.update(md5hex(Buffer.from(r.data, 'base64')))
    else if (r.range) h.update(`${r.hash}:${r.range};`)
    else h.update(String(r.hash))
  }
  return h.digest('hex')
}

/** The stored manifest body, written as Swift writes it (Python's json.dumps). */
export function manifestJson(rows: readonly SloRow[]): Buffer {
  return Buffer.from(pyJsonDumps(rows))
}

/** The manifest as the client PUT it (Swift's convert_segment_listing; keys sorted). */
export function rawManifest(rows: readonly SloRow[]): Buffer {
  const out = rows.map((r) => {
    if (r.data !== undefined) return { data: r.data }
    const o: Record<string, unknown> = { etag: r.hash ?? null, path: r.name ?? null }
    if (r.range !== undefined) o.range = r.range
    o.size_bytes = r.bytes ?? null
    return o
  })
  return Buffer.from(pyJsonDumps(out))
}

/** Last-Modified (HTTP date) as a manifest row's last_modified ("2024-01-02T03:04:05.000000"). */
export function rowTimestamp(httpDateValue: string | undefined): string {
  const ms = httpDateValue ? Date.parse(httpDateValue) : NaN
  const d = Number.isNaN(ms) ? new Date() : new Date(ms)
  return d.toISOString().slice(0, 19) + '.' + String(d.getUTCMilliseconds() * 1000).padStart(6, '0')
}

/** "/container/object" of a row's name, split (null when it names no object). */
export function splitSegmentName(name: string | undefined): [string, string] | null {
  if (!name) return null
  const p = name.replace(/^\/+/, '')
  const slash = p.indexOf('/')
  if (slash <= 0 || slash === p.length - 1) return null
  return [p.slice(0, slash), p.slice(slash + 1)]
}
