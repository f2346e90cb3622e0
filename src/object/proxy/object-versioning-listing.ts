// Listings of versioned containers (Swift's ContainerContext.handle_request / _list_versions):
// link rows in the user container show their target's size and ETag, and `?versions` merges the
// user container's listing (unversioned "null" objects, links to current versions) with the
// hidden versions container's (every version, delete markers included), each row tagged with
// its version_id and whether it is the latest.
import { cmpNames } from '../storage/db-listing.ts'
import { Timestamp } from '../ring/timestamp.ts'
import { SwiftError } from './errors.ts'
import type { ListingRow } from './object-versioning-io.ts'
import {
  DELETE_MARKER_CONTENT_TYPE, RESERVED, parseVersionObjectName, reservedName, splitReservedName, versionObjectName,
  versionsObjectPrefix,
} from './object-versioning-names.ts'
import { quote } from './storage-client.ts'

/** Splits "value; k=v; k2=v2" (Swift's parse_header) into the value and its parameters in order. */
export function parseParams(s: string): { value: string; params: Array<[string, string]> } {
  const parts = s.split(';')
  const params: Array<[string, string]> = []
  for (const p of parts.slice(1)) {
    const eq = p.indexOf('=')
    if (eq < 0) continue
    params.push([p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim()])
  }
  return { value: parts[0]!.trim(), params }
}

function safeUnquote(s: string): string {
  try { return decodeURIComponent(s) } catch { return s }
}

/** Where the rows of a listing come from. */
export interface ListingPlace { account: string; container: string; versionsCont: string; apiVersion: string }

/**
 * Shows each link row of a user-container listing as its target (size, ETag) and marks it
 * `version_symlink`. Its `symlink_path` is the target's hidden path when `forVersions` (to match
 * the versions listing), else the object's own path with `?version-id=`.
 */
export function rewriteLinkRows(rows: ListingRow[], p: ListingPlace, forVersions: boolean): void {
  for (const row of rows) {
    if (row.name === undefined || typeof row.hash !== 'string' || !row.hash.includes('symlink_target')) continue
    const { params } = parseParams(row.hash)
    const map = new Map(params)
    const target = map.get('symlink_target')
    const etag = map.get('symlink_target_etag')
    const bytes = map.get('symlink_target_bytes')
    if (target === undefined || etag === undefined || bytes === undefined) continue
    const path = safeUnquote(target)
    const slash = path.indexOf('/')
    if (slash < 0 || path.slice(0, slash) !== p.versionsCont) continue // not one of this container's versions
    const others = params.filter(([k]) => !k.startsWith('symlink_target'))
    row.bytes = Number(bytes)
    row.hash = etag + others.map(([k, v]) => `; ${k}=${v}`).join('')
    const { versionId } = parseVersionObjectName(path.slice(slash + 1))
    row.symlink_path = forVersions || versionId === null ? `/${p.apiVersion}/${p.account}/${path}`
      : `${quote(`/${p.apiVersion}/${p.account}/${p.container}/${row.name}`)}?version-id=${versionId}`
    row.version_symlink = true
  }
}

/** The listing parameters a versions listing reads from the client's query. */
export interface VersionsParams {
  prefix?: string
  marker?: string
  versionMarker?: string
  delimiter?: string
  reverse: boolean
  limit: number
}

/** The versions container listing query for the client's parameters (Swift's marker/version_marker rules). */
export function hiddenQuery(q: VersionsParams): Record<string, string> {
  const out: Record<string, string> = {}
  if (q.marker !== undefined) {
    if (q.versionMarker === undefined) out.marker = versionsObjectPrefix(q.marker) + ':' // past all its versions
    else if (q.versionMarker === 'null') out.marker = versionsObjectPrefix(q.marker) // before all its versions
    else {
      let v: string
      try { v = new Timestamp(q.versionMarker).internal } catch { throw SwiftError.text(400, 'invalid version_marker param') }
      try { out.marker = versionObjectName(q.marker, v) } catch { throw SwiftError.text(400, 'invalid version_marker param') }
    }
  } else if (q.versionMarker !== undefined) {
    throw SwiftError.text(400, 'version_marker param requires marker')
  }
  // Users' delimiters may not use the characters of version ids.
  if (q.delimiter && /[0-9.\x00]/.test(q.delimiter)) throw SwiftError.text(400, 'invalid delimiter param')
  if (q.prefix !== undefined) out.prefix = RESERVED + q.prefix
  if (q.delimiter) out.delimiter = q.delimiter
  if (q.reverse) out.reverse = 'true'
  out.limit = String(q.limit)
  return out
}

/** Name order (subdirs by their name), stable, as Swift's build_listing sorts. */
function buildListing(rows: ListingRow[], reverse: boolean, limit: number): ListingRow[] {
  const key = (r: ListingRow) => r.subdir ?? r.name ?? ''
  const sorted = rows.slice().sort((a, b) => (reverse ? cmpNames(key(b), key(a)) : cmpNames(key(a), key(b))))
  return sorted.slice(0, limit)
}

/**
 * Merges the user container's listing (links rewritten with `forVersions`) and the versions
 * container's rows (undefined when it does not exist) into the `?versions` listing.
 */
export function mergeVersions(primary: ListingRow[], hidden: ListingRow[] | undefined, p: ListingPlace, q: VersionsParams): ListingRow[] {
  const nulls: ListingRow[] = []
  const subdirs = new Set<string>()
  const current = new Map<string, ListingRow>() // hidden path → link row
  const latest = new Set<string>()
  for (const item of primary) {
    if (item.name === undefined) { if (item.subdir !== undefined) subdirs.add(item.subdir); continue }
    if (item.version_symlink) current.set(String(item.symlink_path), item)
    else {
      nulls.push({ ...item, version_id: 'null', is_latest: true })
      latest.add(item.name)
    }
  }
  const versions: ListingRow[] = []
  for (const item of hidden ?? []) {
    if (item.name === undefined) {
      if (item.subdir !== undefined) subdirs.add(splitReservedName(item.subdir)?.[0] ?? item.subdir)
      continue
    }
    const { name, versionId } = parseVersionObjectName(item.name)
    if (versionId === null) continue
    const path = `/${p.apiVersion}/${p.account}/${p.versionsCont}/${item.name}`
    const row: ListingRow = { ...item }
    if (current.has(path)) {
      row.is_latest = true
      latest.add(name)
      current.delete(path)
    } else if (item.content_type === DELETE_MARKER_CONTENT_TYPE && !latest.has(name)) {
      row.is_latest = true
      latest.add(name)
    } else {
      row.is_latest = false
    }
    row.name = name
    row.version_id = versionId
    versions.push(row)
  }
  // Without a versions container, links still show their versions (as Swift, only then: with
  // one, a link's version not on this page of it is listed on the page where it is).
  const broken: ListingRow[] = []
  if (hidden === undefined) {
    for (const item of current.values()) {
      const { name, versionId } = parseVersionObjectName(String(item.symlink_path).split('/').slice(4).join('/'))
      if (versionId === null) continue
      const isLatest = !latest.has(name)
      latest.add(name)
      broken.push({ name, is_latest: isLatest, version_id: versionId, content_type: item.content_type, bytes: item.bytes,
        hash: item.hash, last_modified: item.last_modified })
    }
  }
  const subdirRows = [...subdirs].map((s) => ({ subdir: s }))
  return buildListing([...nulls, ...versions, ...subdirRows, ...broken], q.reverse, q.limit)
}

/** The reserved-name prefix of all hidden versions containers (account listings). */
export const VERSIONS_CONTAINER_PREFIX = reservedName('versions')
