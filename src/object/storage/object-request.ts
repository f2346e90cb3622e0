// Request checks shared by the object server's verbs: path splitting, storage policy, and
// Swift's constraints on object creation and metadata (swift/common/constraints.py).
import type { BackendResponse } from './backend.ts'
import { validPathPart } from './diskfile.ts'
import { titleCase } from './storage-util.ts'

/** Swift's default max_file_size. */
export const MAX_FILE_SIZE = 5_368_709_122
/** Swift's default max_object_name_length. */
export const MAX_OBJECT_NAME_LENGTH = 1024
const MAX_META_NAME_LENGTH = 128
const MAX_META_VALUE_LENGTH = 256
const MAX_META_COUNT = 90
const MAX_META_OVERALL_SIZE = 4096
const MAX_HEADER_SIZE = 8192

/** Swift's default allowed_headers: extra headers an object stores and serves. */
export const DEFAULT_ALLOWED_HEADERS: readonly string[] = [
  'content-disposition', 'content-encoding', 'x-delete-at', 'x-object-manifest', 'x-static-large-object',
  'cache-control', 'content-language', 'expires', 'x-robots-tag',
]

/** A plain response with an optional text body. */
export function reply(status: number, headers: Record<string, string> = {}, text?: string): BackendResponse {
  if (text === undefined) return { status, headers }
  const body = Buffer.from(text)
  return { status, headers: { 'content-type': 'text/plain; charset=UTF-8', 'content-length': String(body.length), ...headers }, body }
}

/** Thrown by checks to answer with a ready response. */
export class Reply extends Error {
  constructor(readonly response: BackendResponse) { super(`HTTP ${response.status}`) }
}

/**
 * Decodes the path and splits it into `count` segments, the last taking the rest (Swift's
 * split_path). NUL is refused unless `allowReserved` (Swift's check_utf8 with internal=True, for
 * requests carrying X-Backend-Allow-Reserved-Names: hidden containers' objects start with NUL).
 */
export function splitPath(rawPath: string, min: number, max: number, allowReserved = false): string[] {
  let path: string
  try { path = decodeURIComponent(rawPath) } catch { throw new Reply(reply(412, {}, 'Invalid UTF8 or contains NULL')) }
  if (!allowReserved && path.includes('\0')) throw new Reply(reply(412, {}, 'Invalid UTF8 or contains NULL'))
  const bad = () => new Reply(reply(400, {}, `Invalid path: ${path}`))
  if (!path.startsWith('/')) throw bad()
  const parts = path.slice(1).split('/')
  const segs = parts.length > max ? [...parts.slice(0, max - 1), parts.slice(max - 1).join('/')] : parts
  if (segs.length < min) throw bad()
  for (let i = 0; i < segs.length; i++) {
    // Only the last segment may be empty, and only when it is optional.
    if (segs[i] === '' && (i < min || i < segs.length - 1)) throw bad()
  }
  if (segs.length > min && segs[segs.length - 1] === '') segs.pop()
  if (!validPathPart(segs[0]) || !validPathPart(segs[1])) throw bad()
  return segs
}

/** The storage policy index of a request (503 for an unknown one, as Swift). */
export function policyIndex(headers: Record<string, string>, policies?: readonly number[]): number {
  const v = headers['x-backend-storage-policy-index']
  if (v === undefined || v === '') return 0
  const n = /^\d+$/.test(v.trim()) ? Number(v.trim()) : NaN
  if (!Number.isSafeInteger(n) || (policies && !policies.includes(n))) throw new Reply(reply(503, {}, `No policy with index ${v}`))
  return n
}

/** Swift's check_metadata for objects: user metadata limits and header sizes. */
export function checkMetadata(headers: Record<string, string>): void {
  let count = 0
  let size = 0
  const prefix = 'x-object-meta-'
  for (const k in headers) {
    const v = headers[k]
    if (v.length > MAX_HEADER_SIZE) throw new Reply(reply(400, {}, `Header value too long: ${k.slice(0, MAX_META_NAME_LENGTH)}`))
    if (!k.startsWith(prefix)) continue
    const name = k.slice(prefix.length)
    if (!name) throw new Reply(reply(400, {}, 'Metadata name cannot be empty'))
    count++
    size += name.length + v.length
    if (name.length > MAX_META_NAME_LENGTH) throw new Reply(reply(400, {}, `Metadata name too long: ${k}`))
    if (v.length > MAX_META_VALUE_LENGTH) throw new Reply(reply(400, {}, `Metadata value longer than ${MAX_META_VALUE_LENGTH}: ${k}`))
    if (count > MAX_META_COUNT) throw new Reply(reply(400, {}, `Too many metadata items; max ${MAX_META_COUNT}`))
    if (size > MAX_META_OVERALL_SIZE) throw new Reply(reply(400, {}, `Total metadata too large; max ${MAX_META_OVERALL_SIZE}`))
  }
}

/** The announced body length for a PUT (Swift's message_length + check_object_creation). */
export function messageLength(headers: Record<string, string>, maxFileSize: number): number | undefined {
  const te = headers['transfer-encoding']
  let len: number | undefined
  if (te !== undefined) {
    if (te.trim().toLowerCase() !== 'chunked') throw new Reply(reply(501, {}, `Unsupported Transfer-Coding header value specified in Transfer-Encoding header`))
  } else {
    const cl = headers['content-length']
    if (cl === undefined) throw new Reply(reply(411, {}, 'Missing Content-Length header.'))
    if (!/^\d+$/.test(cl.trim())) throw new Reply(reply(400, {}, `Invalid Content-Length header value`))
    len = Number(cl.trim())
  }
  if (len !== undefined && len > maxFileSize) throw new Reply(reply(413, {}, 'Your request is too large.'))
  return len
}

/**
 * Swift's check_delete_headers: X-Delete-After becomes X-Delete-At (mutating `headers`);
 * X-Delete-At must be an integer in the future (unless replicating).
 */
export function checkDeleteHeaders(headers: Record<string, string>, nowSeconds: number, replication: boolean): void {
  const after = headers['x-delete-after']
  if (after !== undefined) {
    if (!/^-?\d+$/.test(after.trim())) throw new Reply(reply(400, {}, 'Non-integer X-Delete-After'))
    const at = Math.floor(nowSeconds + Number(after))
    if (at <= nowSeconds) throw new Reply(reply(400, {}, 'X-Delete-After in past'))
    headers['x-delete-at'] = String(at)
    delete headers['x-delete-after']
  }
  const at = headers['x-delete-at']
  if (at !== undefined) {
    if (!/^-?\d+(\.\d*)?$/.test(at.trim())) throw new Reply(reply(400, {}, 'Non-integer X-Delete-At'))
    const n = Math.floor(Number(at))
    if (n <= nowSeconds && !replication) throw new Reply(reply(400, {}, 'X-Delete-At in past'))
    headers['x-delete-at'] = String(n)
  }
}

const RESERVED_META = new Set(['content-length', 'etag', 'x-timestamp', 'name', 'deleted'])

/** Names of request headers an object stores as metadata (user meta, sysmeta, transient sysmeta). */
export function isObjectMeta(lowerName: string): boolean {
  return lowerName.startsWith('x-object-meta-') || lowerName.startsWith('x-object-sysmeta-') ||
    lowerName.startsWith('x-object-transient-sysmeta-')
}

/** Copies request headers into stored metadata: meta/sysmeta, allowed headers, and replication's explicit list. */
export function requestMetadata(headers: Record<string, string>, allowed: ReadonlySet<string>, includeSysmeta: boolean): Record<string, string> {
  const md: Record<string, string> = {}
  for (const k in headers) {
    if (k.startsWith('x-object-sysmeta-') && !includeSysmeta) continue
    if (isObjectMeta(k) || allowed.has(k)) md[titleCase(k)] = headers[k]
  }
  for (const k of (headers['x-backend-replication-headers'] ?? '').split(/\s+/)) {
    const lk = k.toLowerCase()
    // Body facts and the timestamp are the server's to set, never copied from headers.
    if (lk && headers[lk] !== undefined && !RESERVED_META.has(lk)) md[titleCase(lk)] = headers[lk]
  }
  return md
}
