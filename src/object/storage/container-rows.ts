// How two versions of a container's object row merge (Swift's update_new_item_from_existing).
// A row carries up to three timestamps encoded in created_at: data (PUT/DELETE), content-type
// and metadata (POSTs). Each part is taken from whichever version has the newer timestamp for
// it, so an older PUT arriving after a newer DELETE loses, and a POST's new content type
// survives a replica that only saw the PUT.
import { DbError } from './db-broker.ts'
import { decodeTimestamps, encodeTimestamps, isTimestamp, parseTs, tsCompare, type Ts } from './db-timestamp.ts'

/** An object row as the container DB stores and replicates it. */
export interface ObjectRow {
  name: string
  /** Internal timestamp, or the encoded data/content-type/meta triple. */
  created_at: string
  size: number
  content_type: string
  etag: string
  deleted: number
  storage_policy_index: number
  /** Set by a POST that changed the content type (X-Content-Type-Timestamp). */
  ctype_timestamp?: string | null
  /** Set by a POST that changed metadata (X-Meta-Timestamp). */
  meta_timestamp?: string | null
  /** Present on rows read for replication. */
  ROWID?: number
}

/** A row being merged; data_timestamp keeps the original created_at across repeated merges. */
export interface MergingRow extends ObjectRow { data_timestamp?: string }

const TOKEN = String.raw`[^()<>@,;:"/\[\]?={}\x00-\x20\x7f]+`
const PARAM_RE = new RegExp(String.raw`(?:\s*;\s*(${TOKEN})\s*(?:=\s*(${TOKEN}|"(?:[^"\\]|\\.)*"))?)`, 'g')

/**
 * Swift's extract_swift_bytes: the content type without its `swift_bytes` parameter, and that
 * parameter (SLO manifests record their total size there). Like Swift, the parameters that stay
 * are rewritten without spaces (`text/plain; charset=utf-8` → `text/plain;charset=utf-8`).
 */
export function extractSwiftBytes(contentType: string): [string, string | undefined] {
  const semi = contentType.indexOf(';')
  if (semi < 0) return [contentType, undefined]
  let out = contentType.slice(0, semi)
  let swiftBytes: string | undefined
  for (const m of (';' + contentType.slice(semi + 1)).matchAll(PARAM_RE)) {
    const key = m[1]!.trim()
    const value = (m[2] ?? '').trim()
    if (key === 'swift_bytes') swiftBytes = value
    else out += `;${key}=${value}`
  }
  return [out, swiftBytes]
}

/**
 * Updates `item` with whatever `existing` holds newer, and re-encodes its timestamps. Returns
 * true when the item has anything newer than `existing` (so it replaces the stored row).
 */
export function mergeObjectRow(item: MergingRow, existing?: ObjectRow): boolean {
  if (item.data_timestamp === undefined) item.data_timestamp = item.created_at
  let [tData, tCtype, tMeta]: Ts[] = decodeTimestamps(item.data_timestamp)
  if (item.ctype_timestamp) { tCtype = parseTs(item.ctype_timestamp); tMeta = tCtype }
  if (item.meta_timestamp) tMeta = parseTs(item.meta_timestamp)
  if (!existing) {
    item.created_at = encodeTimestamps(tData!, tCtype, tMeta)
    return true
  }
  const [rData, rCtype, rMeta] = decodeTimestamps(existing.created_at)
  // swift_bytes belongs with the data (size), the rest of content_type with the ctype stamp.
  let [ctype, swiftBytes] = extractSwiftBytes(item.content_type)
  const [exCtype, exSwiftBytes] = extractSwiftBytes(existing.content_type)
  let newer = false
  if (tsCompare(rData, tData!) >= 0) {
    item.size = existing.size
    item.etag = existing.etag
    item.deleted = existing.deleted
    swiftBytes = exSwiftBytes
    tData = rData
  } else newer = true
  if (tsCompare(rCtype, tCtype!) >= 0) {
    ctype = exCtype
    tCtype = rCtype
  } else newer = true
  if (tsCompare(rMeta, tMeta!) >= 0) tMeta = rMeta
  else newer = true
  item.created_at = encodeTimestamps(tData, tCtype, tMeta)
  item.content_type = swiftBytes ? `${ctype};swift_bytes=${swiftBytes}` : ctype
  return newer
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v)

/**
 * Checks rows received from the network (REPLICATE merge_items, UPDATE) before they reach the
 * DB: DbError 400 unless each is a well-formed object row.
 */
export function toObjectRows(items: unknown): ObjectRow[] {
  if (!Array.isArray(items)) throw new DbError(400, 'Invalid rows: not a list')
  return items.map((x, i) => {
    const r = x as Record<string, unknown>
    const bad = (what: string) => new DbError(400, `Invalid row ${i}: ${what}`)
    if (typeof r !== 'object' || r === null) throw bad('not an object')
    if (typeof r.name !== 'string' || r.name === '') throw bad('name')
    if (typeof r.created_at !== 'string') throw bad('created_at')
    try { decodeTimestamps(r.created_at) } catch { throw bad('created_at') }
    if (!isInt(r.size) || r.size < 0) throw bad('size')
    if (typeof r.content_type !== 'string') throw bad('content_type')
    if (typeof r.etag !== 'string') throw bad('etag')
    const deleted = r.deleted === true || r.deleted === 1 ? 1 : r.deleted === false || r.deleted === 0 ? 0 : -1
    if (deleted < 0) throw bad('deleted')
    const spi = r.storage_policy_index ?? 0
    if (!isInt(spi) || spi < 0) throw bad('storage_policy_index')
    for (const k of ['ctype_timestamp', 'meta_timestamp'] as const) {
      const v = r[k]
      if (v !== undefined && v !== null && (typeof v !== 'string' || !isTimestamp(v))) throw bad(k)
    }
    if (r.ROWID !== undefined && !isInt(r.ROWID)) throw bad('ROWID')
    const row: ObjectRow = { name: r.name, created_at: r.created_at, size: r.size, content_type: r.content_type,
      etag: r.etag, deleted, storage_policy_index: spi }
    if (typeof r.ctype_timestamp === 'string') row.ctype_timestamp = r.ctype_timestamp
    if (typeof r.meta_timestamp === 'string') row.meta_timestamp = r.meta_timestamp
    if (isInt(r.ROWID)) row.ROWID = r.ROWID
    return row
  })
}
