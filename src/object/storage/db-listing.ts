// The listing walk shared by container (objects) and account (containers) listings: Swift's
// list_objects_iter / list_containers_iter. Every step is one indexed range query on name
// (`name > marker AND name < end ORDER BY name LIMIT n`); a delimiter collapses a run of names
// into one subdir entry by jumping the marker past it, so the work is proportional to the page,
// never to the DB.

/** Listing parameters, as the Swift API takes them. */
export interface ListParams {
  /** Page size; default 10000 (Swift's listing limit, which the servers enforce). */
  limit?: number
  /** Names strictly after this (before it, with reverse). */
  marker?: string
  /** Names strictly before this (after it, with reverse). */
  endMarker?: string
  prefix?: string
  delimiter?: string
  /** Legacy `path`: prefix `path/` with delimiter '/', nested names left out entirely. */
  path?: string
  reverse?: boolean
  /** Include names that start with Swift's reserved byte (\x00); internal clients only. */
  allowReserved?: boolean
}

/** A name range for one query; bounds are exclusive unless `lowerInclusive`. */
export interface NameRange {
  lower?: string
  lowerInclusive: boolean
  upper?: string
  reverse: boolean
  limit: number
}

/** A collapsed run of names under a delimiter. */
export interface Subdir { subdir: string }

/** Code point order, which is SQLite's BINARY order on UTF-8 (JS `<` compares UTF-16 units). */
export function cmpNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x === y) continue
    // Only a surrogate against a BMP char above the surrogates sorts differently in UTF-16.
    const xs = x >= 0xd800 && x <= 0xdfff
    const ys = y >= 0xd800 && y <= 0xdfff
    if (xs !== ys) return xs ? 1 : -1
    return x < y ? -1 : 1
  }
  return a.length - b.length
}

/** The string just after `s`'s last code point (Python's `s[:-1] + chr(ord(s[-1]) + 1)`). */
export function bumpLast(s: string): string {
  const cp = s.codePointAt(s.length - 1)!
  // A trailing low surrogate is the second half of a pair: take the whole code point.
  const isPair = s.length >= 2 && cp >= 0xdc00 && cp <= 0xdfff && s.codePointAt(s.length - 2)! > 0xffff
  const head = isPair ? s.slice(0, -2) : s.slice(0, -1)
  const full = isPair ? s.codePointAt(s.length - 2)! : cp
  let next = full + 1
  if (next === 0xd800) next = 0xe000 // no scalar values in the surrogate block
  if (next > 0x10ffff) return s + '\u0000' // nothing after U+10FFFF; any longer string sorts after
  return head + String.fromCodePoint(next)
}

const RESERVED_NEXT = '\u0001' // names >= this do not start with the reserved byte

/**
 * Runs a listing. `query` must return rows of the range in name order (descending for
 * reverse), at most `limit`; `nameOf` reads a row's name. Returns rows and subdir entries.
 */
export function walkListing<R>(p: ListParams, query: (range: NameRange) => R[], nameOf: (row: R) => string):
  Array<R | Subdir> {
  const limit = p.limit ?? 10000
  const reverse = !!p.reverse
  let marker = p.marker ?? ''
  let endMarker = p.endMarker ?? ''
  if (reverse) [marker, endMarker] = [endMarker, marker]
  let prefix = p.prefix
  let delimiter = p.delimiter
  let path = p.path
  if (path !== undefined) {
    prefix = path
    if (path) prefix = path = path.replace(/\/+$/, '') + '/'
    delimiter = '/'
  } else if (delimiter && !prefix) {
    prefix = ''
  }
  const endPrefix = prefix ? bumpLast(prefix) : ''
  const origMarker = marker
  let delimForceGte = false
  const results: Array<R | Subdir> = []

  while (results.length < limit) {
    const range: NameRange = { lowerInclusive: false, reverse, limit: limit - results.length }
    if (endMarker && (!prefix || cmpNames(endMarker, endPrefix) < 0)) range.upper = endMarker
    else if (prefix) range.upper = endPrefix
    if (delimForceGte) {
      range.lower = marker
      range.lowerInclusive = true
      delimForceGte = false
    } else if (marker && (!prefix || cmpNames(marker, prefix) >= 0)) {
      range.lower = marker
    } else if (prefix) {
      range.lower = prefix
      range.lowerInclusive = true
    }
    if (!p.allowReserved && (range.lower === undefined || cmpNames(range.lower, RESERVED_NEXT) < 0)) {
      // Folded into the one lower bound so the index range stays tight.
      range.lower = RESERVED_NEXT
      range.lowerInclusive = true
    }
    const rows = query(range)
    if (prefix === undefined || !delimiter) return rows
    let rowcount = 0
    for (const row of rows) {
      rowcount++
      const name = nameOf(row)
      if (reverse) endMarker = name
      else marker = name
      if (results.length >= limit) return results
      const end = name.indexOf(delimiter, prefix.length)
      if (path !== undefined) {
        if (name === path) continue
        if (end >= 0 && name.length > end + delimiter.length) {
          if (reverse) endMarker = name.slice(0, end + delimiter.length)
          else marker = name.slice(0, end) + bumpLast(delimiter)
          break
        }
      } else if (end >= 0) {
        if (reverse) {
          endMarker = name.slice(0, end + delimiter.length)
        } else {
          marker = name.slice(0, end) + bumpLast(delimiter)
          delimForceGte = true // the next query includes delim+1 itself
        }
        const dir = name.slice(0, end + delimiter.length)
        if (dir !== origMarker) results.push({ subdir: dir })
        break
      }
      results.push(row)
    }
    if (!rowcount) break
  }
  return results
}

/** Builds the name conditions of a NameRange: SQL fragments and their arguments. */
export function rangeSql(range: NameRange): { where: string; args: string[]; order: string } {
  const where: string[] = []
  const args: string[] = []
  if (range.lower !== undefined) { where.push(range.lowerInclusive ? 'name >= ?' : 'name > ?'); args.push(range.lower) }
  if (range.upper !== undefined) { where.push('name < ?'); args.push(range.upper) }
  return { where: where.join(' AND '), args, order: range.reverse ? 'DESC' : 'ASC' }
}
