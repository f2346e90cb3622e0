// Swift's Timestamp, as far as the account and container databases need it.
//
// A private helper of the DB servers: src/object/ring/timestamp.ts is being written at the same
// time by another engineer; this file can go once that one lands, if it offers the same pieces
// (internal/normal/isoformat, the offset part, encode/decode of the container's triple stamps).
//
// A timestamp is seconds since the epoch in deca-microseconds ("raw", so it stays an exact
// integer: the largest, 9999999999.99999, is < 2^53) plus an optional 64-bit offset that orders
// writes made at the same instant (`1700000000.12345_000000000000000a`).

/** A parsed Swift timestamp. */
export interface Ts {
  /** Seconds since the epoch × 100000, an integer. */
  readonly raw: number
  /** The hex "offset" part; 0n for client timestamps. */
  readonly offset: bigint
}

const MAX_RAW = 999999999999999 // 9999999999.99999
const MAX_OFFSET = (1n << 64n) - 1n
const NUMBER_RE = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/

/** Python's round(): halves go to the even neighbour. */
function pyRound(x: number): number {
  const r = Math.round(x)
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r
}

/** Parses a timestamp as Swift's `Timestamp(str)`; throws a RangeError when it is not one. */
export function parseTs(value: string | number, delta = 0): Ts {
  let offset = 0n
  let secs: number
  if (typeof value === 'number') {
    secs = value
  } else {
    const us = value.indexOf('_')
    let floatPart = value
    if (us >= 0) {
      const hex = value.slice(us + 1)
      floatPart = value.slice(0, us)
      if (hex !== '') {
        if (!/^[0-9a-fA-F]{1,16}$/.test(hex)) throw new RangeError(`invalid timestamp offset: ${value}`)
        offset = BigInt('0x' + hex)
      }
    }
    if (!NUMBER_RE.test(floatPart)) throw new RangeError(`invalid timestamp: ${value}`)
    secs = Number(floatPart)
  }
  if (!Number.isFinite(secs)) throw new RangeError(`invalid timestamp: ${value}`)
  let raw = pyRound(secs / 1e-5)
  if (delta) {
    if (raw + delta < 0) throw new RangeError(`delta must be greater than ${-raw - 1}`)
    raw += delta
  }
  if (raw < 0) throw new RangeError('timestamp cannot be negative')
  if (raw > MAX_RAW) throw new RangeError('timestamp too large')
  if (offset > MAX_OFFSET) throw new RangeError('offset too large')
  return { raw, offset }
}

/** True when `value` parses as a timestamp. */
export function isTimestamp(value: string): boolean {
  try { parseTs(value); return true } catch { return false }
}

/** `%016.05f` of the seconds: 1700000000.12345, zero padded to 16 characters. */
export function tsNormal(t: Ts): string {
  const secs = Math.floor(t.raw / 100000)
  const frac = t.raw % 100000
  return (String(secs) + '.' + String(frac).padStart(5, '0')).padStart(16, '0')
}

/** The canonical form: normal, plus `_<16 hex>` when the offset is not zero. */
export function tsInternal(t: Ts): string {
  return t.offset ? tsNormal(t) + '_' + t.offset.toString(16).padStart(16, '0') : tsNormal(t)
}

/** As internal, but the offset in as few hex digits as it needs (used inside encoded triples). */
export function tsShort(t: Ts): string {
  return t.offset ? tsNormal(t) + '_' + t.offset.toString(16) : tsNormal(t)
}

/** `2024-01-02T03:04:05.123450`: microseconds, no zone, as Swift's listings show last_modified. */
export function tsIsoformat(t: Ts): string {
  const secs = Math.floor(t.raw / 100000)
  const micros = (t.raw % 100000) * 10
  return new Date(secs * 1000).toISOString().slice(0, 19) + '.' + String(micros).padStart(6, '0')
}

/** An HTTP date of the timestamp rounded up to the second (Swift's Last-Modified). */
export function tsHttpDate(t: Ts): string {
  return new Date(Math.ceil(t.raw / 100000) * 1000).toUTCString()
}

/** Orders timestamps: by time, then by offset. */
export function tsCompare(a: Ts, b: Ts): number {
  if (a.raw !== b.raw) return a.raw < b.raw ? -1 : 1
  return a.offset === b.offset ? 0 : a.offset < b.offset ? -1 : 1
}

/** The normalized internal form of a timestamp string ('1' → '0000000001.00000'). */
export function normalizeTimestamp(value: string | number): string {
  return tsInternal(parseTs(value))
}

/** The current time as an internal timestamp. */
export function nowTimestamp(): string {
  return tsInternal(parseTs(Date.now() / 1000))
}

/** The zero timestamp, '0000000000.00000'. */
export const ZERO_TIMESTAMP = '0000000000.00000'

/**
 * Compares two stored timestamp strings (internal form, or Swift's legacy '0'). Internal
 * forms sort as strings; parsing covers the odd '0' and non-padded values other nodes send.
 */
export function compareTimestamps(a: string, b: string): number {
  if (a.length === b.length && a.length >= 16 && a[10] === '.' && b[10] === '.') {
    return a < b ? -1 : a > b ? 1 : 0
  }
  return tsCompare(parseTs(a), parseTs(b))
}

/**
 * Swift's encode_timestamps: a container row's created_at carries the data timestamp and, when
 * they differ, the content-type and metadata timestamps as signed hex deltas
 * (`<t1>[+/-<t2-t1>[+/-<t3-t2>]]`).
 */
export function encodeTimestamps(t1: Ts, t2?: Ts, t3?: Ts, explicit = false): string {
  let out = tsShort(t1)
  if (!t2) return out
  const d2 = t2.raw - t1.raw
  let tail = signedHex(d2)
  explicit = explicit || d2 !== 0
  if (t3) {
    const d3 = t3.raw - t2.raw
    explicit = explicit || d3 !== 0
    tail += signedHex(d3)
  }
  return explicit ? out + tail : out
}

function signedHex(n: number): string {
  return (n < 0 ? '-' : '+') + Math.abs(n).toString(16)
}

/** Swift's decode_timestamps (non-explicit): the three timestamps of an encoded created_at. */
export function decodeTimestamps(encoded: string): [Ts, Ts, Ts] {
  const parts: string[] = []
  const signs: number[] = []
  for (const pos of encoded.split('+')) {
    const neg = pos.split('-')
    neg.forEach((p, i) => { parts.push(p); signs.push(i === 0 ? 1 : -1) })
  }
  const t1 = parseTs(parts[0]!)
  let t2 = t1
  if (parts.length > 1) {
    const delta = signs[1]! * parseInt(parts[1]!, 16)
    if (Number.isNaN(delta)) throw new RangeError(`invalid encoded timestamp: ${encoded}`)
    // A zero delta keeps t1 itself (with its offset); otherwise the offset is dropped, as Swift.
    if (delta) t2 = parseTs(tsNormal(t1), delta)
  }
  let t3 = t2
  if (parts.length > 2) {
    const delta = signs[2]! * parseInt(parts[2]!, 16)
    if (Number.isNaN(delta)) throw new RangeError(`invalid encoded timestamp: ${encoded}`)
    if (delta) t3 = parseTs(tsNormal(t2), delta)
  }
  return [t1, t2, t3]
}
