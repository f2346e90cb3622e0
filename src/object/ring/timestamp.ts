// Swift's timestamps (swift.common.utils.timestamp): every PUT, POST and DELETE carries one,
// and "newest wins" everywhere (object files, container rows, account rows) compares them.
// The value is kept as an integer count of 10 µs ("raw") so formatting and comparison are exact;
// floats would drift in the fifth decimal.
import { CloudError } from '../../core/errors.ts'

/** Largest raw value (10 µs units) below Swift's bound of 10^10 seconds. */
const MAX_RAW = 999_999_999_999_999
const MAX_OFFSET = (1n << 64n) - 1n
const PRECISION = 1e-5
// Python's float() syntax, minus inf/nan (Swift would fail on them later with a 500).
const FLOAT_RE = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/
const HEX_RE = /^[0-9a-fA-F]{1,16}$/

function bad(message: string): CloudError {
  return new CloudError('BadRequest', message)
}

/** Python's round() on a float: nearest integer, ties to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x)
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r
}

/** Seconds (as Swift's float() would read them) → raw 10 µs units, rounded as Swift does. */
function toRaw(seconds: number): number {
  if (!Number.isFinite(seconds)) throw bad(`invalid timestamp: ${seconds}`)
  return roundHalfEven(seconds / PRECISION)
}

/**
 * A Swift timestamp: seconds since the epoch at 10 µs precision plus an optional internal offset
 * (a 64-bit counter that orders rewrites made "at" the same time, e.g. by the reconciler).
 * Forms: `normal` "1700000000.12345" (what clients and most headers see), `internal`
 * "1700000000.12345_000000000000000a" (only when the offset is non-zero; file names, rows).
 * Constructing from bad input throws a 400 CloudError.
 */
export class Timestamp {
  /** Seconds × 10^5, an exact integer. */
  readonly raw: number
  /** The internal offset; 0n for every timestamp a client can create. */
  readonly offset: bigint

  /**
   * @param value seconds (number), a string in normal or internal form, or another Timestamp
   * @param opts.offset added to the parsed offset (as Swift's `offset` argument)
   * @param opts.delta 10 µs units added to the time
   */
  constructor(value: number | string | Timestamp, opts: { offset?: number | bigint; delta?: number } = {}) {
    let raw: number
    let offset = 0n
    if (value instanceof Timestamp) {
      raw = value.raw
      offset = value.offset
    } else if (typeof value === 'number') {
      raw = toRaw(value)
    } else {
      const sep = value.indexOf('_')
      const floatPart = sep < 0 ? value : value.slice(0, sep)
      const hexPart = sep < 0 ? '' : value.slice(sep + 1)
      if (!FLOAT_RE.test(floatPart)) throw bad(`invalid timestamp: ${JSON.stringify(value)}`)
      if (hexPart !== '') {
        if (!HEX_RE.test(hexPart)) throw bad(`invalid timestamp offset: ${JSON.stringify(value)}`)
        offset = BigInt('0x' + hexPart)
      }
      raw = toRaw(Number(floatPart))
    }
    const delta = opts.delta ?? 0
    if (!Number.isInteger(delta)) throw new TypeError('delta must be an integer')
    if (raw + delta < 0 && delta !== 0) throw bad(`delta must be greater than ${-raw - 1}`)
    raw += delta
    if (raw < 0) throw bad('timestamp cannot be negative')
    if (raw > MAX_RAW) throw bad('timestamp too large')
    const inc = BigInt(opts.offset ?? 0)
    if (inc < 0n) throw bad('offset must be non-negative')
    offset += inc
    if (offset > MAX_OFFSET) throw bad(`offset must be less than or equal to ${MAX_OFFSET}`)
    this.raw = raw
    this.offset = offset
  }

  /** The current time (10 µs precision). */
  static now(opts: { offset?: number | bigint; delta?: number } = {}): Timestamp {
    return new Timestamp(Date.now() / 1000, opts)
  }

  /** The smallest timestamp. */
  static zero(): Timestamp {
    return new Timestamp(0)
  }

  /** Seconds since the epoch as a float (lossy in the last digit; prefer `raw` to compute). */
  get seconds(): number {
    return this.raw / 100000
  }

  /** Swift's normalized form, `%016.05f`: "1700000000.12345", "0000000001.50000". */
  get normal(): string {
    const whole = Math.floor(this.raw / 100000)
    const frac = this.raw - whole * 100000
    return String(whole).padStart(10, '0') + '.' + String(frac).padStart(5, '0')
  }

  /** The canonical form: `normal`, plus `_<16 hex>` when the offset is non-zero. */
  get internal(): string {
    return this.offset === 0n ? this.normal : this.normal + '_' + this.offset.toString(16).padStart(16, '0')
  }

  /** Like `internal` but with the offset in shortest hex (Swift's `short`, used in encodings). */
  get short(): string {
    return this.offset === 0n ? this.normal : this.normal + '_' + this.offset.toString(16)
  }

  /** "2023-11-14T22:13:20.123450", as Swift's listings show `last_modified`. */
  get isoformat(): string {
    const whole = Math.floor(this.raw / 100000)
    const micros = (this.raw - whole * 100000) * 10
    return new Date(whole * 1000).toISOString().slice(0, 19) + '.' + String(micros).padStart(6, '0')
  }

  /** Whole seconds rounded up: the value behind second-precision Last-Modified headers. */
  ceil(): number {
    return Math.ceil(this.raw / 100000)
  }

  /** -1, 0 or 1 ordering by time then offset (the same order as comparing `internal` strings). */
  compare(other: Timestamp | string | number): -1 | 0 | 1 {
    const o = other instanceof Timestamp ? other : new Timestamp(other)
    if (this.raw !== o.raw) return this.raw < o.raw ? -1 : 1
    if (this.offset !== o.offset) return this.offset < o.offset ? -1 : 1
    return 0
  }

  equals(other: Timestamp | string | number): boolean {
    return this.compare(other) === 0
  }

  toString(): string {
    return this.internal
  }

  toJSON(): string {
    return this.internal
  }
}

/** Swift's normalize_timestamp: any accepted timestamp as "%016.05f" (offset dropped). */
export function normalizeTimestamp(t: number | string | Timestamp): string {
  return new Timestamp(t).normal
}

/**
 * Reads a required X-Timestamp header value as Swift's storage servers do (swob's
 * request.timestamp): 400 "Missing X-Timestamp header" or 400 "Invalid X-Timestamp header".
 */
export function parseXTimestamp(value: string | undefined, header = 'X-Timestamp'): Timestamp {
  if (value === undefined) throw bad(`Missing ${header} header`)
  try {
    return new Timestamp(value)
  } catch {
    throw bad(`Invalid ${header} header`)
  }
}

/**
 * Swift's encode_timestamps: up to three timestamps as `<t1>[±<hex delta>[±<hex delta>]]`
 * (container rows store data, content-type and metadata times in one column this way).
 */
export function encodeTimestamps(t1: Timestamp, t2?: Timestamp, t3?: Timestamp, explicit = false): string {
  let out = t1.short
  if (t2 === undefined) return out
  const d2 = t2.raw - t1.raw
  const d3 = t3 === undefined ? 0 : t3.raw - t2.raw
  if (!(explicit || d2 !== 0 || d3 !== 0)) return out
  const signed = (d: number) => (d < 0 ? '-' : '+') + Math.abs(d).toString(16)
  out += signed(d2)
  if (t3 !== undefined) out += signed(d3)
  return out
}

/**
 * Swift's decode_timestamps. Components not encoded take the previous component's value, or
 * are undefined when `explicit` is set.
 */
export function decodeTimestamps(encoded: string, explicit = false): [Timestamp, Timestamp | undefined, Timestamp | undefined] {
  const parts: string[] = []
  const signs: number[] = []
  for (const pos of encoded.split('+')) {
    const neg = pos.split('-')
    neg.forEach((p, i) => { parts.push(p); signs.push(i === 0 ? 1 : -1) })
  }
  const delta = (i: number) => {
    if (!/^[0-9a-fA-F]+$/.test(parts[i])) throw bad(`invalid encoded timestamps: ${JSON.stringify(encoded)}`)
    return signs[i] * parseInt(parts[i], 16)
  }
  const t1 = new Timestamp(parts[0])
  let t2: Timestamp | undefined = explicit ? undefined : t1
  if (parts.length > 1) {
    const d = delta(1)
    t2 = d ? new Timestamp(t1.normal, { delta: d }) : t1
  }
  let t3: Timestamp | undefined = explicit ? undefined : t2
  if (parts.length > 2) {
    const d = delta(2)
    t3 = d ? new Timestamp((t2 as Timestamp).normal, { delta: d }) : t2
  }
  return [t1, t2, t3]
}
