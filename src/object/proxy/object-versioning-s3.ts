// The S3 port's versioning (s3/port.ts S3Versioning and the versionId of reads and deletes),
// mapped onto object versioning as Swift's s3api maps it: PutBucketVersioning is
// X-Versions-Enabled, ListObjectVersions the `?versions` listing, a versionId the `?version-id`
// of Swift, a DELETE on an Enabled bucket writes a delete marker, and deleting the current
// version by id makes the previous one current again (s3api's _restore_on_delete).
// ProxyS3Storage (s3-storage.ts) calls these for buckets that have versioning.
import { randomUUID } from 'node:crypto'
import type { Readable } from 'node:stream'
import type { BackendResponse } from '../storage/backend.ts'
import { Timestamp } from '../ring/timestamp.ts'
import { s3err } from '../s3/errors.ts'
import type {
  DeleteResult, MultipartManifest, S3Versioning, SubdirRow, VersionListOptions, VersionListResult, VersionRow,
} from '../s3/port.ts'
import type { ProxyContext } from './context.ts'
import { SwiftError } from './errors.ts'
import type { ContainerInfo } from './info-cache.ts'
import { checkVersionable, dropVersionsContainer, ensureVersionsContainer } from './object-versioning-container.ts'
import {
  type Versioned, deleteVersion, deleteWithMarker, isDeleteMarker, putVersion, readLatest, readNull, readVersion,
  restoreVersion, versionPlace, versioningOf,
} from './object-versioning-core.ts'
import {
  type ListingRow, type Place, headContainerAs, isFound, listAs, objectWriteAs, postContainerSysmeta, readAs, release,
} from './object-versioning-io.ts'
import { hiddenQuery, mergeVersions, rewriteLinkRows } from './object-versioning-listing.ts'
import {
  DELETE_MARKER_CONTENT_TYPE, SYSMETA_VERSIONS_ENABLED, pyBool, validateVersion, versionsContainerName,
} from './object-versioning-names.ts'
import type { SwiftRequest } from './request.ts'

/** A trusted internal request: the S3 layer has authorized the caller. */
export function s3Request(method: string, account: string, container?: string, obj?: string): SwiftRequest {
  return { method, account, container, obj, query: new URLSearchParams(), headers: {}, owner: true, preauthorized: true,
    id: `tx${randomUUID().replace(/-/g, '')}` }
}

/** The versioned view of an object, when its container has (or had) versioning. */
export function versionedObject(ctx: ProxyContext, ci: ContainerInfo, place: Place): Versioned | undefined {
  const st = versioningOf(ci)
  if (!st.versionsCont) return undefined
  return { ctx, req: s3Request('GET', place.account, place.container, place.obj), place, versionsCont: st.versionsCont, enabled: st.enabled }
}

/** Versioning's state of a container for S3 (GetBucketVersioning). */
export function s3VersioningStatus(h: Record<string, string>): 'Enabled' | 'Suspended' | undefined {
  const st = versioningOf({ headers: h })
  return st.configured ? (st.enabled ? 'Enabled' : 'Suspended') : undefined
}

/** A read of an object (current or given version) in a versioned container. */
export type S3VersionRead =
  | { kind: 'found'; resp: BackendResponse; versionId?: string; target?: Place }
  | { kind: 'not-found' }
  | { kind: 'delete-marker'; versionId: string; lastModified: Date }

/** Seconds of a version id as S3's Last-Modified (whole seconds, rounded up as Swift's). */
const versionDate = (versionId: string) => new Date(new Timestamp(versionId).ceil() * 1000)

/**
 * Reads the object for S3: the current version through its link, or version `versionId`
 * ('null': the unversioned data). Undefined when the container is not versioned and no version
 * is asked for (plain reads apply).
 */
export async function s3Read(ctx: ProxyContext, ci: ContainerInfo, place: Place, method: 'GET' | 'HEAD',
                             headers: Record<string, string>, versionId?: string): Promise<S3VersionRead | undefined> {
  const st = versioningOf(ci)
  const v: Versioned = { ctx, req: s3Request(method, place.account, place.container, place.obj), place,
    versionsCont: st.versionsCont, enabled: st.enabled }
  if (versionId === undefined) {
    if (!st.versionsCont) return undefined
    const r = await readLatest(v, method, headers)
    return { kind: 'found', resp: r.resp, versionId: r.versionId, ...(r.target ? { target: r.target } : {}) }
  }
  if (versionId === 'null') {
    const resp = await readNull(v, method, headers)
    if (!resp) return { kind: 'not-found' }
    return { kind: 'found', resp, ...(st.configured || st.versionsCont ? { versionId: 'null' } : {}) }
  }
  if (!st.versionsCont) return { kind: 'not-found' }
  try { validateVersion(versionId, false) } catch { return { kind: 'not-found' } }
  const resp = await readVersion(v, versionId, method, headers)
  if (isFound(resp.status) && isDeleteMarker(resp.headers)) {
    release(resp)
    return { kind: 'delete-marker', versionId, lastModified: versionDate(versionId) }
  }
  return { kind: 'found', resp, versionId, target: versionPlace(v, versionId) }
}

/** The outcome of a versioned S3 write: Swift's status, and the version made. */
export interface S3PutOutcome { status: number; etag?: string; lastModified?: Date; versionId?: string }

/** Stores a new version when the container's versioning is Enabled; undefined otherwise (a plain write applies). */
export async function s3PutVersion(ctx: ProxyContext, ci: ContainerInfo, place: Place, body: Readable,
                                   contentLength: number | undefined, headers: Record<string, string>): Promise<S3PutOutcome | undefined> {
  const v = versionedObject(ctx, ci, place)
  if (!v || !v.enabled) return undefined
  try {
    const r = await putVersion(v, { body, contentLength, headers: { ...headers }, timestamp: ctx.now() })
    if (r.status !== 201) return { status: r.status }
    return { status: 201, etag: r.etag!, lastModified: new Date(r.headers['last-modified']!), versionId: r.versionId! }
  } catch (err) {
    if (err instanceof SwiftError) return { status: err.status }
    throw err
  }
}

/** Reads a manifest out of an object answer (s3-storage.ts knows the format); undefined when it is none. */
export type ManifestReader = (resp: BackendResponse) => Promise<MultipartManifest | undefined>

/**
 * DELETE for S3 in a versioned container: a delete marker (Enabled, no versionId), or one version
 * by id. 'plain' when a plain delete of the user object applies (not versioned, Suspended, or the
 * "null" version while it is unversioned data).
 */
export async function s3Delete(ctx: ProxyContext, ci: ContainerInfo, place: Place, versionId: string | undefined,
                               manifestOf: ManifestReader): Promise<DeleteResult | 'plain'> {
  const v = versionedObject(ctx, ci, place)
  if (!v) return versionId === undefined || versionId === 'null' ? 'plain' : { status: 'not-found' }
  if (versionId === undefined) {
    if (!v.enabled) return 'plain'
    const d = await deleteWithMarker(v, ctx.now())
    // 404: there was nothing to delete, the marker is written all the same (S3 answers 204).
    if (!isFound(d.answer.status) && d.answer.status !== 404) throw new Error(`versioned DELETE failed (${d.answer.status})`)
    return { status: 'deleted', versionId: d.versionId, deleteMarker: true }
  }
  if (versionId === 'null') {
    const cur = await readNull(v, 'HEAD', {})
    if (!cur) return { status: 'not-found' } // the current object is a version with an id
    release(cur)
    return cur.status === 404 ? { status: 'not-found' } : 'plain'
  }
  try { validateVersion(versionId, false) } catch { return { status: 'not-found' } }
  // A manifest version takes its segments with it (s3api's multipart-manifest=delete).
  const got = await readAs(ctx, v.req, versionPlace(v, versionId), 'GET',
    { 'x-backend-ignore-range-if-metadata-present': 'x-static-large-object', range: 'bytes=0-0' }, { source: 'S3' })
  const manifest = isFound(got.status) ? await manifestOf(got) : (release(got), undefined)
  const d = await deleteVersion(v, versionId)
  if (d.answer.status === 404) return { status: 'not-found' }
  if (!isFound(d.answer.status)) throw new Error(`version DELETE failed (${d.answer.status})`)
  if (d.currentVersionId === 'null') await restoreOnDelete(ctx, v)
  return { status: 'deleted', versionId, ...(d.wasDeleteMarker ? { deleteMarker: true } : {}), ...(manifest ? { manifest } : {}) }
}

/** After the current version went, the newest remaining version (not a delete marker) becomes current. */
async function restoreOnDelete(ctx: ProxyContext, v: Versioned): Promise<void> {
  const rows = await versionRows(ctx, v.req, v.place.account, v.place.container, v.versionsCont, { prefix: v.place.obj, limit: 100 })
  for (const item of rows) {
    if (item.name !== v.place.obj || item.version_id === 'null' || item.content_type === DELETE_MARKER_CONTENT_TYPE) return
    try {
      const r = await restoreVersion(v, String(item.version_id), {})
      if (isFound(r.status)) return
    } catch (err) {
      // Gone since it was listed: try the next one.
      if (!(err instanceof SwiftError) || err.status !== 404) throw err
    }
  }
}

/** The merged `?versions` rows of a container (Swift's listing before rendering). */
async function versionRows(ctx: ProxyContext, req: SwiftRequest, account: string, container: string, versionsCont: string,
                           o: { prefix?: string; delimiter?: string; keyMarker?: string; versionIdMarker?: string; limit: number }):
  Promise<ListingRow[]> {
  const place = { account, container, versionsCont: versionsCont || versionsContainerName(container), apiVersion: 'v1' }
  const params: Record<string, string> = { limit: String(o.limit) }
  if (o.prefix) params.prefix = o.prefix
  if (o.delimiter) params.delimiter = o.delimiter
  if (o.keyMarker) params.marker = o.keyMarker
  const q = { reverse: false, limit: o.limit, ...(o.prefix ? { prefix: o.prefix } : {}), ...(o.delimiter ? { delimiter: o.delimiter } : {}),
    ...(o.keyMarker ? { marker: o.keyMarker } : {}), ...(o.versionIdMarker ? { versionMarker: o.versionIdMarker } : {}) }
  let hq: Record<string, string>
  try { hq = hiddenQuery(q) } catch (err) {
    if (err instanceof SwiftError) {
      throw s3err('InvalidArgument', err.body.toString('utf8'), { ArgumentName: 'version-id-marker', ArgumentValue: o.versionIdMarker ?? '' })
    }
    throw err
  }
  const primary = await listAs(ctx, req, account, container, params, { reserved: false, source: 'S3' })
  if (!isFound(primary.status)) throw new Error(`listing of ${account}/${container} failed (${primary.status})`)
  rewriteLinkRows(primary.rows, place, true)
  let hidden: ListingRow[] | undefined
  if ((await ctx.infos.container(account, place.versionsCont)).status !== 404) {
    const h = await listAs(ctx, req, account, place.versionsCont, hq, { reserved: true, source: 'S3' })
    if (isFound(h.status)) hidden = h.rows
    else if (h.status !== 404) throw new Error(`versions listing of ${account}/${container} failed (${h.status})`)
  }
  return mergeVersions(primary.rows, hidden, place, q)
}

/** A Swift listing timestamp ("2024-01-02T03:04:05.123456", UTC) as a Date. */
const listingDate = (s: string) => new Date(/[zZ]$/.test(s) ? s : `${s}Z`)

/** S3Versioning over object versioning; `listingEtag` turns a listing row's hash into S3's ETag. */
export class ProxyS3Versioning implements S3Versioning {
  constructor(private readonly ctx: ProxyContext, private readonly listingEtag: (hash: string) => string) {}

  async setVersioning(account: string, container: string, status: 'Enabled' | 'Suspended'): Promise<'ok' | 'not-found'> {
    const ctx = this.ctx
    const req = s3Request('POST', account, container)
    const ci = await ctx.infos.container(account, container)
    if (ci.status === 404) return 'not-found'
    if (!isFound(ci.status)) throw new Error(`container ${account}/${container} unavailable (${ci.status})`)
    try { checkVersionable(ci) } catch (err) {
      if (err instanceof SwiftError) throw s3err('InvalidBucketState', err.body.toString('utf8'))
      throw err
    }
    let sysmeta: Record<string, string> = { [SYSMETA_VERSIONS_ENABLED]: pyBool(status === 'Enabled') }
    if (status === 'Enabled') sysmeta = { ...sysmeta, ...(await ensureVersionsContainer(ctx, req, account, container, ci)).sysmeta }
    const st = await postContainerSysmeta(ctx, req, account, container, sysmeta, 'S3')
    if (st === 404) return 'not-found'
    if (!isFound(st)) throw new Error(`container POST ${account}/${container} failed (${st})`)
    return 'ok'
  }

  async listVersions(account: string, container: string, o: VersionListOptions): Promise<VersionListResult> {
    const ci = await this.ctx.infos.container(account, container)
    if (ci.status === 404) return { status: 'no-bucket' }
    if (!isFound(ci.status)) throw new Error(`container ${account}/${container} unavailable (${ci.status})`)
    const rows = await versionRows(this.ctx, s3Request('GET', account, container), account, container, versioningOf(ci).versionsCont, o)
    return {
      status: 'ok',
      rows: rows.map((r): VersionRow | SubdirRow => r.name === undefined ? { subdir: r.subdir! } : {
        name: r.name, versionId: String(r.version_id), isLatest: r.is_latest === true,
        deleteMarker: r.content_type === DELETE_MARKER_CONTENT_TYPE, bytes: Number(r.bytes ?? 0),
        hash: this.listingEtag(String(r.hash ?? '')), lastModified: listingDate(String(r.last_modified)),
      }),
    }
  }
}

/** Before a versioned bucket goes: 'not-empty' while versions remain, else its versions container (to drop after). */
export async function s3BucketVersions(ctx: ProxyContext, account: string, container: string): Promise<'not-empty' | string | undefined> {
  const { versionsCont } = versioningOf(await ctx.infos.container(account, container))
  if (!versionsCont) return undefined
  const h = await headContainerAs(ctx, s3Request('HEAD', account, container), account, versionsCont, 'S3')
  if (isFound(h.status) && Number(h.headers['x-container-object-count'] ?? 0) > 0) return 'not-empty'
  if (!isFound(h.status) && h.status !== 404) throw new Error(`versions container of ${account}/${container} unavailable (${h.status})`)
  return versionsCont
}

/** Drops a deleted bucket's versions container. */
export async function s3DropVersions(ctx: ProxyContext, account: string, versionsCont: string): Promise<void> {
  const status = await dropVersionsContainer(ctx, s3Request('DELETE', account), account, versionsCont)
  if (!isFound(status) && status !== 404) throw new Error(`versions container DELETE ${account}/${versionsCont} failed (${status})`)
}

/** Rewrites the link rows of a plain listing of `container` to show their versions (size, ETag). */
export function s3ListingRows(rows: ListingRow[], account: string, container: string): void {
  rewriteLinkRows(rows, { account, container, versionsCont: versionsContainerName(container), apiVersion: 'v1' }, false)
}

/** POSTs metadata to a version (a link's target) as the proxy; Swift's status. */
export async function s3PostVersion(ctx: ProxyContext, target: Place, headers: Record<string, string>): Promise<number> {
  const h = { ...headers }
  delete h['x-timestamp']
  const a = await objectWriteAs(ctx, s3Request('POST', target.account, target.container, target.obj), target, 'POST', h, ctx.now(), 'S3')
  return a.status
}
