// Swift's constraints (swift/common/constraints.py) as the proxy enforces them: name lengths,
// metadata limits, object creation checks and X-Delete-After/-At. Each failure is a SwiftError
// carrying Swift's status and text body, so clients see the same codes as against Swift.
import { SwiftError } from './errors.ts'

/** The limits the proxy enforces and publishes in /info (Swift's DEFAULT_CONSTRAINTS). */
export const CONSTRAINTS = {
  max_file_size: 5_368_709_122,
  max_meta_name_length: 128,
  max_meta_value_length: 256,
  max_meta_count: 90,
  max_meta_overall_size: 4096,
  max_header_size: 8192,
  max_request_line: 8192,
  max_object_name_length: 1024,
  container_listing_limit: 10000,
  account_listing_limit: 10000,
  max_account_name_length: 256,
  max_container_name_length: 256,
  valid_api_versions: ['v1', 'v1.0'],
  extra_header_count: 0,
  auto_create_account_prefix: '.',
} as const

/** The kind of entity metadata is set on: selects the `X-<Type>-Meta-` prefix. */
export type MetaTarget = 'account' | 'container' | 'object'

/**
 * Swift's check_metadata: every header value at most max_header_size; user metadata names
 * non-empty and at most 128 bytes, values at most 256, at most 90 items and 4096 bytes in all.
 * Header strings arrive from node:http as latin-1, one character per byte, so `.length` counts
 * bytes exactly as Swift does on its WSGI strings.
 */
export function checkMetadata(headers: Record<string, string>, target: MetaTarget): void {
  const prefix = `x-${target}-meta-`
  let count = 0
  let size = 0
  for (const k in headers) {
    const v = headers[k]
    if (v.length > CONSTRAINTS.max_header_size) {
      throw SwiftError.text(400, `Header value too long: ${k.slice(0, CONSTRAINTS.max_meta_name_length)}`)
    }
    if (!k.startsWith(prefix)) continue
    const name = k.slice(prefix.length)
    if (!name) throw SwiftError.text(400, 'Metadata name cannot be empty')
    const nameLen = name.length
    const valueLen = v.length
    count++
    size += nameLen + valueLen
    if (nameLen > CONSTRAINTS.max_meta_name_length) throw SwiftError.text(400, `Metadata name too long: ${prefix}${name}`)
    if (valueLen > CONSTRAINTS.max_meta_value_length) {
      throw SwiftError.text(400, `Metadata value longer than ${CONSTRAINTS.max_meta_value_length}: ${prefix}${name}`)
    }
    if (count > CONSTRAINTS.max_meta_count) throw SwiftError.text(400, `Too many metadata items; max ${CONSTRAINTS.max_meta_count}`)
    if (size > CONSTRAINTS.max_meta_overall_size) {
      throw SwiftError.text(400, `Total metadata too large; max ${CONSTRAINTS.max_meta_overall_size}`)
    }
  }
}

/** Account and container names: 400 when longer than Swift's limit. */
export function checkNameLength(kind: 'Account' | 'Container', name: string): void {
  const limit = kind === 'Account' ? CONSTRAINTS.max_account_name_length : CONSTRAINTS.max_container_name_length
  const len = Buffer.byteLength(name)
  if (len > limit) throw SwiftError.text(400, `${kind} name length of ${len} longer than ${limit}`)
}

/**
 * The body length a PUT announces (swob's message_length): a number, or undefined for a chunked
 * body. 400 for a malformed Content-Length, 501 for a transfer coding other than chunked,
 * 411 when neither is given, 413 past max_file_size.
 */
export function messageLength(headers: Record<string, string>): number | undefined {
  const te = headers['transfer-encoding']
  let len: number | undefined
  if (te !== undefined) {
    const codings = te.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)
    if (codings.length !== 1 || codings[0] !== 'chunked') {
      throw SwiftError.text(501, `Unsupported Transfer-Coding header value specified in Transfer-Encoding header`)
    }
  } else {
    const cl = headers['content-length']
    if (cl === undefined) throw SwiftError.text(411, 'Missing Content-Length header.')
    if (!/^\s*\d+\s*$/.test(cl)) throw SwiftError.text(400, `Invalid Content-Length header value`)
    len = Number(cl)
  }
  if (len !== undefined && len > CONSTRAINTS.max_file_size) throw SwiftError.text(413, 'Your request is too large.')
  return len
}

/** Swift's check_object_creation, minus the body length (see messageLength). */
export function checkObjectCreation(headers: Record<string, string>, objectName: string, nowSeconds: number): void {
  const nameLen = Buffer.byteLength(objectName)
  if (nameLen > CONSTRAINTS.max_object_name_length) {
    throw SwiftError.text(400, `Object name length of ${nameLen} longer than ${CONSTRAINTS.max_object_name_length}`)
  }
  const ctype = headers['content-type']
  if (ctype === undefined) throw SwiftError.text(400, 'No content type')
  if (ctype.includes('\0')) throw SwiftError.text(400, 'Invalid Content-Type')
  // swift_bytes and other swift_* parameters are Swift's own (SLO); clients may not set them.
  for (const param of ctype.split(';').slice(1)) {
    if (param.trimStart().startsWith('swift_')) throw SwiftError.text(400, 'Invalid Content-Type, swift_* is not a valid parameter name.')
  }
  checkDeleteHeaders(headers, nowSeconds)
  checkMetadata(headers, 'object')
}

/**
 * Swift's check_delete_headers: X-Delete-After becomes X-Delete-At (mutating `headers`); both
 * must be integers, and the time must be in the future.
 */
export function checkDeleteHeaders(headers: Record<string, string>, nowSeconds: number): void {
  const after = headers['x-delete-after']
  if (after !== undefined) {
    if (!/^\s*[+-]?\d+\s*$/.test(after)) throw SwiftError.text(400, 'Non-integer X-Delete-After')
    const at = Math.floor(nowSeconds + Number(after))
    if (at <= nowSeconds) throw SwiftError.text(400, 'X-Delete-After in past')
    headers['x-delete-at'] = String(at)
    delete headers['x-delete-after']
  }
  const at = headers['x-delete-at']
  if (at !== undefined) {
    if (!/^\s*[+-]?\d+\s*$/.test(at)) throw SwiftError.text(400, 'Non-integer X-Delete-At')
    const n = Number(at)
    if (n <= nowSeconds) throw SwiftError.text(400, 'X-Delete-At in past')
    headers['x-delete-at'] = String(n)
  }
}

/** Listing parameters (validate_container_params): limit must be an integer ≤ the listing limit. */
export function checkListingParams(query: URLSearchParams, limit: number): void {
  const raw = query.get('limit')
  if (raw !== null && raw !== '') {
    if (!/^\d+$/.test(raw)) throw SwiftError.text(412, `Value of limit must be a positive integer`)
    if (Number(raw) > limit) throw SwiftError.text(412, `Maximum limit is ${limit}`)
  }
  for (const k of ['prefix', 'delimiter', 'marker', 'end_marker', 'path']) {
    const v = query.get(k)
    if (v !== null && v.includes('\0')) throw SwiftError.text(400, `Invalid ${k}`)
  }
}
