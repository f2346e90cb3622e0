// Object versioning's data operations (Swift's object_versioning.py ObjectContext), shared by the
// Swift middleware and the S3 port. Each version is a plain object in the container's hidden
// versions container, named `\0<name>\0<inverted version timestamp>`; the current version is a
// zero-byte *link* in the user container pointing at it (Swift's static versions symlink: object
// sysmeta names the target, its ETag and size, and the container-update override puts them in the
// listing row). Data is written once, never moved: overwriting writes a new version and a new
// link, deleting writes a delete marker (a zero-byte version with DELETE_MARKER_CONTENT_TYPE).
// An object written while versioning was off (the "null" version) is plain data in the user
// container; it is copied into the versions container the first time a versioned write covers it.
// Callers authorize first: everything here runs as the proxy.
import { Readable, Transform } from 'node:stream'
import type { BackendResponse } from '../storage/backend.ts'
import { Timestamp } from '../ring/timestamp.ts'
import { httpDate } from '../storage/storage-util.ts'
import { CONSTRAINTS, checkDeleteHeaders } from './constraints.ts'
import type { ProxyContext } from './context.ts'
import { SwiftError } from './errors.ts'
import type { ContainerInfo } from './info-cache.ts'
import { storeObject } from './object.ts'
import {
  type Place, bodyStream, copyableHeaders, internalRequest, isFound, objectWriteAs, readAs, release, writeAs,
} from './object-versioning-io.ts'
import {
  ALLOW_RESERVED, DELETE_MARKER_CONTENT_TYPE, MD5_OF_EMPTY, OVERRIDE_ETAG, SYMLINK_TARGET, SYMLINK_TARGET_BYTES,
  SYMLINK_TARGET_ETAG, SYSMETA_VERSIONS_CONT, SYSMETA_VERSIONS_ENABLED, SYSMETA_VERSIONS_SYMLINK, isTrueValue,
  parseVersionObjectName, timestampToVersion, versionObjectName,
} from './object-versioning-names.ts'
import type { NodeAnswer } from './quorum.ts'
import type { SwiftRequest } from './request.ts'
import { quote } from './storage-client.ts'

const SOURCE = 'OV'

/** A container's versioning state, from its sysmeta. */
export interface VersioningState {
  /** The hidden versions container; '' when versioning was never enabled. */
  versionsCont: string
  enabled: boolean
  /** Versioning was enabled or disabled at some point (S3's Enabled/Suspended vs. never set). */
  configured: boolean
}

function safeUnquote(s: string): string {
  try { return decodeURIComponent(s) } catch { return s }
}

/** The versioning state of a container (Swift's sysmeta versions-container / versions-enabled). */
export function versioningOf(ci: ContainerInfo | { headers: Record<string, string> }): VersioningState {
  const raw = ci.headers[SYSMETA_VERSIONS_CONT] ?? ''
  const enabled = ci.headers[SYSMETA_VERSIONS_ENABLED]
  return { versionsCont: raw ? safeUnquote(raw).split('/')[0]! : '', enabled: isTrueValue(enabled), configured: !!enabled }
}

/** A user object in a container that has (or had) versioning. */
export interface Versioned {
  ctx: ProxyContext
  /** The request being served (ids, env, caller); internal requests derive from it. */
  req: SwiftRequest
  place: Place
  versionsCont: string
  enabled: boolean
}

/** Where version `versionId` of the object is stored. */
export function versionPlace(v: Versioned, versionId: string): Place {
  return { account: v.place.account, container: v.versionsCont, obj: versionObjectName(v.place.obj, versionId) }
}

/** The hidden object a versions link points to; undefined when the headers are not a link into `versionsCont`. */
export function linkTarget(h: Record<string, string>, versionsCont: string): string | undefined {
  if (!isTrueValue(h[SYSMETA_VERSIONS_SYMLINK])) return undefined
  const t = safeUnquote(h[SYMLINK_TARGET] ?? '')
  const slash = t.indexOf('/')
  if (slash < 0 || t.slice(0, slash) !== versionsCont) return undefined
  return t.slice(slash + 1)
}

/** Statuses of a read whose headers describe the object found (a link shows itself in them). */
const describes = (s: number) => isFound(s) || s === 304 || s === 412

/** Read hints for a user object that may be a link: a range applies to the target, never to the 0-byte link. */
function linkHints(headers: Record<string, string>): Record<string, string> {
  const h = { ...headers }
  const k = 'x-backend-ignore-range-if-metadata-present'
  h[k] = h[k] ? `${h[k]},${SYSMETA_VERSIONS_SYMLINK}` : SYSMETA_VERSIONS_SYMLINK
  return h
}

/** A read answer and the version it is. */
export interface VersionRead {
  resp: BackendResponse
  /** The version id served ('null' for unversioned data). */
  versionId: string
  /** The answer comes from the versions container (the user object was a link). */
  linked: boolean
  /** The hidden object read, when linked. */
  target?: Place
}

/** Reads the current version: the user object, or the version its link points to. */
export async function readLatest(v: Versioned, method: 'GET' | 'HEAD', headers: Record<string, string>, newest = false): Promise<VersionRead> {
  const first = await readAs(v.ctx, v.req, v.place, method, linkHints(headers), { newest, source: SOURCE })
  const target = v.versionsCont && describes(first.status) ? linkTarget(first.headers, v.versionsCont) : undefined
  if (target === undefined) return { resp: first, versionId: 'null', linked: false }
  release(first)
  const place = { account: v.place.account, container: v.versionsCont, obj: target }
  const resp = await readAs(v.ctx, v.req, place, method, headers, { newest, source: SOURCE })
  return { resp, versionId: parseVersionObjectName(target).versionId ?? 'null', linked: true, target: place }
}

/** Reads the "null" version: the user object if it is unversioned data; undefined when it is a link. */
export async function readNull(v: Versioned, method: 'GET' | 'HEAD', headers: Record<string, string>, newest = false):
  Promise<BackendResponse | undefined> {
  const resp = await readAs(v.ctx, v.req, v.place, method, linkHints(headers), { newest, source: SOURCE })
  if (describes(resp.status) && isTrueValue(resp.headers[SYSMETA_VERSIONS_SYMLINK])) { release(resp); return undefined }
  return resp
}

/** Reads one version from the versions container. */
export function readVersion(v: Versioned, versionId: string, method: 'GET' | 'HEAD', headers: Record<string, string>,
                            newest = false): Promise<BackendResponse> {
  return readAs(v.ctx, v.req, versionPlace(v, versionId), method, headers, { newest, source: SOURCE })
}

/** Whether a read answer is a delete marker. */
export function isDeleteMarker(h: Record<string, string>): boolean {
  return (h['x-backend-content-type'] ?? h['content-type']) === DELETE_MARKER_CONTENT_TYPE
}

/** The answer when the versions container has vanished (Swift answers 500 with this text). */
function versionsMissing(): SwiftError {
  return SwiftError.text(500, 'The versions container does not exist. You may want to re-enable object versioning.')
}

/**
 * Swift's _check_response_error for the new mode: a 404 of a step is 412, other client errors
 * are passed on as they are, anything else is 503.
 */
export function checkStep(a: { status: number; headers: Record<string, string>; body?: Buffer | Readable }): void {
  if (isFound(a.status)) return
  if (a.status === 404) throw SwiftError.status(412)
  if (a.status >= 400 && a.status < 500) {
    const body = Buffer.isBuffer(a.body) && a.body.length ? a.body : undefined
    if (a.body instanceof Readable) a.body.destroy()
    const contentType = a.headers['content-type'] ?? 'text/html; charset=UTF-8'
    throw body ? new SwiftError(a.status, body, contentType) : SwiftError.status(a.status)
  }
  throw SwiftError.status(503)
}

/**
 * Before a versioned write covers it, copies unversioned data of the user object (written while
 * versioning was off) into the versions container under its own timestamp.
 */
export async function copyCurrent(v: Versioned): Promise<void> {
  const src = await readAs(v.ctx, v.req, v.place, 'GET', {}, { newest: true, source: SOURCE })
  if (src.status === 404) { release(src); return }
  if (!isFound(src.status)) { release(src); checkStep({ status: src.status, headers: src.headers }) }
  if (isTrueValue(src.headers[SYSMETA_VERSIONS_SYMLINK])) { release(src); return } // already a version
  const length = src.headers['content-length'] === undefined ? NaN : Number(src.headers['content-length'])
  if (!Number.isFinite(length) || length > CONSTRAINTS.max_file_size) { release(src); throw SwiftError.status(413) }
  const ts = src.headers['x-backend-timestamp'] ?? src.headers['x-timestamp'] ?? String(Date.parse(src.headers['last-modified'] ?? '') / 1000)
  let target: Place
  try { target = versionPlace(v, timestampToVersion(ts)) } catch (err) { release(src); throw err }
  const put = await writeAs(v.ctx, v.req, target, { headers: copyableHeaders(src.headers), timestamp: v.ctx.now(),
    body: bodyStream(src), contentLength: length }, SOURCE)
  release(src)
  if (put.status === 404) throw versionsMissing()
  checkStep(put)
}

/**
 * What a link records about its target; `listingEtag` is the target's listing ETag with its
 * parameters (an S3 or SLO manifest's), which the link's row keeps.
 */
export interface LinkTarget { name: string; etag: string; bytes: number; contentType: string; listingEtag?: string }

/** Headers of a client write that do not belong on a link (they describe data it does not have). */
const NOT_FOR_LINK = new Set(['etag', 'x-if-delete-at', 'x-object-manifest', 'x-static-large-object', 'x-object-sysmeta-slo-etag',
  'x-object-sysmeta-slo-size', 'content-length', 'transfer-encoding', 'x-timestamp', 'x-copy-from', 'x-copy-from-account'])

/** Writes the link making `t` the current version; `headers` are the client's (metadata stays on the link too). */
export async function putLink(v: Versioned, t: LinkTarget, headers: Record<string, string>, timestamp: Timestamp): Promise<NodeAnswer> {
  const h: Record<string, string> = {}
  for (const k in headers) {
    if (NOT_FOR_LINK.has(k) || k.startsWith('x-object-sysmeta-container-update-override-') || k.startsWith('x-backend-')) continue
    h[k] = headers[k]
  }
  const target = quote(`${v.versionsCont}/${t.name}`)
  h['content-type'] = t.contentType
  h[SYSMETA_VERSIONS_SYMLINK] = 'true'
  h[SYMLINK_TARGET] = target
  h[SYMLINK_TARGET_ETAG] = t.etag
  h[SYMLINK_TARGET_BYTES] = String(t.bytes)
  // The listing row of the link carries its target, as Swift's symlink middleware writes it.
  h[OVERRIDE_ETAG] = `${t.listingEtag ?? MD5_OF_EMPTY}; symlink_target=${target}; symlink_target_etag=${t.etag}; symlink_target_bytes=${t.bytes}`
  const a = await writeAs(v.ctx, v.req, v.place, { headers: h, timestamp, contentLength: 0 }, SOURCE)
  return { status: a.status, headers: a.headers, body: Buffer.isBuffer(a.body) ? a.body : Buffer.alloc(0) }
}

/** Counts the bytes of a body of unknown length (chunked uploads). */
class ByteCounter extends Transform {
  bytes = 0
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: (e?: Error | null, d?: Buffer) => void): void {
    this.bytes += chunk.length
    cb(null, chunk)
  }
}

/** A new version to store. */
export interface NewVersion {
  body?: Readable
  contentLength?: number
  /** The client's headers (content-type, metadata, etag to verify, x-delete-at for the link...). */
  headers: Record<string, string>
  /** The write's timestamp: the version id. */
  timestamp: Timestamp
}

/** The answer to a versioned PUT: the version's ETag and id. */
export interface PutVersionResult { status: number; headers: Record<string, string>; body?: Buffer; versionId?: string; etag?: string }

/**
 * Stores a new current version: the data goes to the versions container, then the link to it
 * replaces the user object. Unversioned data there is copied aside first.
 */
export async function putVersion(v: Versioned, n: NewVersion): Promise<PutVersionResult> {
  const ctx = v.ctx
  const linkHeaders = { ...n.headers }
  // Expiry is the link's: validated before anything is stored; the version itself never expires.
  checkDeleteHeaders(linkHeaders, n.timestamp.seconds)
  const hci = await ctx.infos.container(v.place.account, v.versionsCont)
  if (hci.status === 404) { n.body?.destroy(); throw versionsMissing() }
  if (!isFound(hci.status)) { n.body?.destroy(); throw SwiftError.status(503) }
  if (n.headers['if-none-match']?.trim() === '*') {
    // Asked before anything is stored: a version written and then refused at its link would linger.
    const cur = await readAs(ctx, v.req, v.place, 'HEAD', {}, { newest: true, source: SOURCE })
    release(cur)
    if (isFound(cur.status)) { n.body?.destroy(); throw SwiftError.status(412) }
    delete linkHeaders['if-none-match']
  }
  await copyCurrent(v)

  const versionId = timestampToVersion(n.timestamp)
  const target = versionPlace(v, versionId)
  const h: Record<string, string> = {}
  for (const k in n.headers) if (k !== 'x-delete-at' && k !== 'x-delete-after' && k !== 'if-none-match') h[k] = n.headers[k]
  h[ALLOW_RESERVED] = 'true'
  const counter = n.contentLength === undefined && n.body ? new ByteCounter() : undefined
  if (counter) n.body!.once('error', (e) => counter.destroy(e))
  const body = counter ? n.body!.pipe(counter) : n.body
  const r = internalRequest(v.req, 'PUT', target, SOURCE, { 'x-timestamp': n.timestamp.internal })
  const put = await storeObject(ctx, r, hci, { body, contentLength: n.contentLength, headers: h })
  if (put.status === 404) throw versionsMissing()
  checkStep(put)
  const etag = (put.headers.etag ?? '').replace(/^"(.*)"$/, '$1')
  const slo = h['x-object-sysmeta-slo-size']
  const bytes = slo !== undefined ? Number(slo) : n.contentLength ?? counter?.bytes ?? 0
  const contentType = (h['content-type'] ?? 'application/octet-stream').split(';')[0]!.trim()
  const link = await putLink(v, { name: target.obj, etag, bytes, contentType, listingEtag: h[OVERRIDE_ETAG] }, linkHeaders,
    new Timestamp(n.timestamp, { offset: 1 }))
  if (!isFound(link.status)) return { status: link.status, headers: link.headers, body: link.body }
  return {
    status: 201, versionId, etag,
    headers: { etag, 'last-modified': httpDate(n.timestamp.ceil()), 'x-object-version-id': versionId },
  }
}

/** The outcome of a delete that wrote a marker. */
export interface MarkerDelete { answer: NodeAnswer; versionId: string }

/** DELETE while versioning is on: a delete marker becomes the newest version and the link goes. */
export async function deleteWithMarker(v: Versioned, timestamp: Timestamp, extra: Record<string, string> = {}): Promise<MarkerDelete> {
  await copyCurrent(v)
  const versionId = timestampToVersion(timestamp)
  const marker = await writeAs(v.ctx, v.req, versionPlace(v, versionId),
    { headers: { 'content-type': DELETE_MARKER_CONTENT_TYPE }, timestamp, contentLength: 0 }, SOURCE)
  checkStep(marker)
  const answer = await objectWriteAs(v.ctx, v.req, v.place, 'DELETE', extra, timestamp, SOURCE)
  return { answer, versionId }
}

/** The outcome of deleting one version. */
export interface VersionDelete {
  answer: NodeAnswer
  /** The version that is current now ('null': none, or unversioned data). */
  currentVersionId: string
  /** The deleted version was a delete marker. */
  wasDeleteMarker: boolean
}

/** Deletes one version (never writes a marker); deleting the current one removes its link too. */
export async function deleteVersion(v: Versioned, versionId: string): Promise<VersionDelete> {
  const head = await readAs(v.ctx, v.req, v.place, 'HEAD', {}, { newest: true, source: SOURCE })
  const tombstone = head.status === 404
  if (!tombstone) checkStep({ status: head.status, headers: head.headers })
  const linked = tombstone ? undefined : linkTarget(head.headers, v.versionsCont)
  const target = versionPlace(v, versionId)
  let currentVersionId = 'null'
  if (linked === target.obj) {
    const unlink = await objectWriteAs(v.ctx, v.req, v.place, 'DELETE', {}, v.ctx.now(), SOURCE)
    checkStep(unlink)
  } else if (linked !== undefined) {
    currentVersionId = parseVersionObjectName(linked).versionId ?? 'null'
  }
  const answer = await objectWriteAs(v.ctx, v.req, target, 'DELETE', {}, v.ctx.now(), SOURCE)
  return { answer, currentVersionId, wasDeleteMarker: answer.headers['x-backend-content-type'] === DELETE_MARKER_CONTENT_TYPE }
}

/** Makes an existing version current again (Swift's PUT ?version-id=<id>). */
export async function restoreVersion(v: Versioned, versionId: string, headers: Record<string, string>): Promise<PutVersionResult> {
  const target = versionPlace(v, versionId)
  const head = await readAs(v.ctx, v.req, target, 'HEAD', {}, { source: SOURCE })
  if (head.status === 404 || (isFound(head.status) && isDeleteMarker(head.headers))) {
    release(head)
    const hci = await v.ctx.infos.container(v.place.account, v.versionsCont)
    if (hci.status === 404) throw versionsMissing()
    throw SwiftError.text(404, 'The specified version does not exist')
  }
  checkStep({ status: head.status, headers: head.headers })
  const h = head.headers
  const etag = (h.etag ?? '').replace(/^"(.*)"$/, '$1')
  const slo = h['x-object-sysmeta-slo-size']
  const bytes = Number(slo ?? h['content-length'] ?? 0)
  const contentType = (h['content-type'] ?? 'application/octet-stream').split(';')[0]!.trim()
  const ts = v.ctx.now()
  const link = await putLink(v, { name: target.obj, etag, bytes, contentType, listingEtag: h[OVERRIDE_ETAG] }, headers, ts)
  if (!isFound(link.status)) return { status: link.status, headers: link.headers, body: link.body }
  return { status: 201, versionId, etag, headers: { etag, 'last-modified': httpDate(ts.ceil()), 'x-object-version-id': versionId } }
}

/** Sends a POST's metadata on to the version a link points to (Swift follows the link's 307). */
export async function postToLinkedVersion(v: Versioned, headers: Record<string, string>): Promise<NodeAnswer | undefined> {
  const head = await readAs(v.ctx, v.req, v.place, 'HEAD', {}, { source: SOURCE })
  release(head)
  const target = describes(head.status) ? linkTarget(head.headers, v.versionsCont) : undefined
  if (target === undefined) return undefined
  const h: Record<string, string> = {}
  for (const k in headers) if (k !== 'x-delete-at' && k !== 'x-delete-after') h[k] = headers[k]
  return objectWriteAs(v.ctx, v.req, { account: v.place.account, container: v.versionsCont, obj: target }, 'POST', h,
    v.ctx.now(), SOURCE)
}
