// The account and container DBs' view of Swift timestamps: small string-oriented helpers over
// src/object/ring/timestamp.ts. Rows and info columns store timestamps as strings in internal
// form, which sort like the timestamps they spell, so most comparisons need no parsing.
import { decodeTimestamps as decode, encodeTimestamps, Timestamp } from '../ring/timestamp.ts'

export { encodeTimestamps }

/** A parsed Swift timestamp. */
export type Ts = Timestamp

/** Parses a timestamp as Swift's `Timestamp(value)` (+ `delta` in 10 µs); throws when it is not one. */
export function parseTs(value: string | number, delta = 0): Ts {
  return new Timestamp(value, { delta })
}

/** True when `value` parses as a timestamp. */
export function isTimestamp(value: string): boolean {
  try { parseTs(value); return true } catch { return false }
}

/** The normalized internal form of a timestamp ('1' → '0000000001.00000'; an offset is kept). */
export function normalizeTimestamp(value: string | number): string {
  return parseTs(value).internal
}

/** The current time as an internal timestamp. */
export function nowTimestamp(): string {
  return Timestamp.now().internal
}

/** The zero timestamp, '0000000000.00000'. */
export const ZERO_TIMESTAMP = '0000000000.00000'

/** Orders timestamps: by time, then by offset. */
export function tsCompare(a: Ts, b: Ts): number {
  return a.compare(b)
}

/**
 * Compares two stored timestamp strings. Internal forms of the same length sort as strings;
 * anything else (Swift's legacy '0', an offset on one side only) is parsed.
 */
export function compareTimestamps(a: string, b: string): number {
  if (a.length === b.length && a.length >= 16 && a[10] === '.' && b[10] === '.') return a < b ? -1 : a > b ? 1 : 0
  return parseTs(a).compare(parseTs(b))
}

/** The HTTP date of a timestamp rounded up to the second (Swift's Last-Modified). */
export function tsHttpDate(t: Ts): string {
  return new Date(t.ceil() * 1000).toUTCString()
}

/** Swift's decode_timestamps (non-explicit): data, content-type and metadata timestamps. */
export function decodeTimestamps(encoded: string): [Ts, Ts, Ts] {
  const [t1, t2, t3] = decode(encoded)
  return [t1, t2 ?? t1, t3 ?? t2 ?? t1]
}
