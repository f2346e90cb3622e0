// Conditional requests (RFC 7232) and byte ranges (RFC 7233), as S3 and Swift evaluate them.
// Shared by every S3Storage implementation so the fake and the proxy answer alike, and by the
// S3 layer for the x-amz-copy-source-if-* headers.
import type { ByteRange, Conditions, ObjectInfo } from './port.ts'

/** Whole seconds: HTTP dates have no finer precision, so comparisons must not either. */
const seconds = (d: Date) => Math.floor(d.getTime() / 1000)

function etagIn(list: string[], etag: string): boolean {
  return list.some((e) => e === '*' || e === etag)
}

/**
 * RFC 7232 section 6 order: If-Match, else If-Unmodified-Since; then If-None-Match, else
 * If-Modified-Since. That is also S3's documented behaviour (If-Match true wins over a false
 * If-Unmodified-Since; If-None-Match false with If-Modified-Since true is 304). `isRead` is false
 * for writes, where a failed If-None-Match is a 412 rather than a 304.
 */
export function evaluateConditions(info: ObjectInfo, c: Conditions | undefined, isRead = true):
  'ok' | 'not-modified' | 'precondition-failed' {
  if (!c) return 'ok'
  if (c.ifMatch) {
    if (!etagIn(c.ifMatch, info.etag)) return 'precondition-failed'
  } else if (c.ifUnmodifiedSince && seconds(info.lastModified) > seconds(c.ifUnmodifiedSince)) {
    return 'precondition-failed'
  }
  if (c.ifNoneMatch) {
    if (etagIn(c.ifNoneMatch, info.etag)) return isRead ? 'not-modified' : 'precondition-failed'
  } else if (isRead && c.ifModifiedSince && seconds(info.lastModified) <= seconds(c.ifModifiedSince)) {
    return 'not-modified'
  }
  return 'ok'
}

/** The inclusive byte span a range selects in an object of `size` bytes, or 'unsatisfiable'. */
export function resolveRange(range: ByteRange, size: number): { start: number; end: number } | 'unsatisfiable' {
  if ('suffix' in range) {
    if (range.suffix <= 0 || size === 0) return 'unsatisfiable'
    return { start: Math.max(0, size - range.suffix), end: size - 1 }
  }
  if (range.first >= size) return 'unsatisfiable'
  const end = range.last === undefined ? size - 1 : Math.min(range.last, size - 1)
  return { start: range.first, end }
}

/**
 * Parses a Range header. S3 honours a single `bytes=` range; anything it can't use (syntax
 * errors, several ranges, last < first) is ignored and the whole object served, as RFC 7233
 * allows and S3 does. undefined = no usable range.
 */
export function parseRangeHeader(value: string | undefined): ByteRange | undefined {
  if (!value) return undefined
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(value)
  if (!m) return undefined
  const [, a, b] = m
  if (a === '' && b === '') return undefined
  if (a === '') return { suffix: Number(b) }
  const first = Number(a)
  if (b === '') return { first }
  const last = Number(b)
  if (last < first) return undefined
  return { first, last }
}

/** Parses an If-Match / If-None-Match list into unquoted ETags (weak `W/` prefixes dropped). */
export function parseEtagList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined
  const out: string[] = []
  for (let part of value.split(',')) {
    part = part.trim()
    if (!part) continue
    if (part.startsWith('W/')) part = part.slice(2)
    if (part.length >= 2 && part.startsWith('"') && part.endsWith('"')) part = part.slice(1, -1)
    out.push(part)
  }
  return out
}

/** Parses an HTTP date; undefined when absent or unparseable (such conditions are ignored, as RFC 7232 says). */
export function parseHttpDate(value: string | undefined): Date | undefined {
  if (!value) return undefined
  const t = Date.parse(value)
  return Number.isNaN(t) ? undefined : new Date(t)
}
