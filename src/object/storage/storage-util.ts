// Small HTTP helpers the storage servers share: dates, header-name casing, Swift's booleans.
// (Timestamps and hash_path live in src/object/ring/.)

/** IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) of epoch seconds. */
export function httpDate(seconds: number): string {
  return new Date(seconds * 1000).toUTCString()
}

/** Parses an HTTP date to epoch seconds, or null when it is not a date (then it is ignored). */
export function parseHttpDate(value: string | undefined): number | null {
  if (!value) return null
  const ms = Date.parse(value)
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000)
}

/** `x-object-meta-color` → `X-Object-Meta-Color`: how Swift stores header names in metadata. */
export function titleCase(name: string): string {
  let out = ''
  let up = true
  for (const ch of name) {
    out += up ? ch.toUpperCase() : ch.toLowerCase()
    up = !/[a-zA-Z]/.test(ch) // as Python's str.title(): only letters are cased
  }
  return out
}

/** Swift's truthy config/header values. */
export function isTrue(value: string | undefined): boolean {
  if (!value) return false
  return ['true', '1', 'yes', 'on', 't', 'y'].includes(value.trim().toLowerCase())
}
