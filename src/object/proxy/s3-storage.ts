// The S3 layer's storage port (s3/port.ts) over the proxy's own internals: the same storage
// client, info cache and object write path (storeObject → putFanout) the Swift API uses, so S3
// and Swift see the same accounts, containers and objects. The S3 layer has already authorized
// the caller, so no Swift ACL is checked here.
//
// Naming: bucket metadata is X-Container-Sysmeta-S3-<key>; object user metadata is
// X-Object-Meta-<key>; the S3 layer's object sysmeta is X-Object-Transient-Sysmeta-S3-<key>,
// because Swift's object POST may replace transient sysmeta but never persistent sysmeta, and
// setObjectSysmeta must change it in place (port.ts). Manifests are in s3-manifest.ts.
import { createHash, randomUUID } from 'node:crypto'
import { Readable, Transform } from 'node:stream'
import { evaluateConditions, resolveRange } from '../s3/conditions.ts'
import type {
  BucketInfo, BucketRow, DeleteResult, GetResult, ListOptions, ListResult, ManifestOptions, MultipartManifest, ObjectInfo, ObjectRow,
  PutOptions, PutResult, ReadOptions, ReadResult, S3Storage, S3Versioning, StoredHeaders, SubdirRow,
} from '../s3/port.ts'
import type { BackendResponse } from '../storage/backend.ts'
import { autocreateAccount } from './account.ts'
import { type ProxyContext, backendHeaders } from './context.ts'
import { SwiftError } from './errors.ts'
import { assignTargets } from './headers.ts'
import { objectLocation, storeObject } from './object.ts'
import type { SwiftRequest } from './request.ts'
import {
  IGNORE_RANGE, SLO_SIZE, cleanContentType, isManifest as isManifestAnswer, listingEtag, manifestBody, manifestHeaders, parseManifest, readAll,
  s3Etag, streamSegments,
} from './s3-manifest.ts'
import { discard, entityPath } from './storage-client.ts'
import type { ListingRow } from './object-versioning-io.ts'
import {
  ProxyS3Versioning, type S3VersionRead, s3BucketVersions, s3Delete, s3DropVersions, s3ListingRows, s3PostVersion, s3PutVersion,
  s3Read, s3VersioningStatus,
} from './object-versioning-s3.ts'

const BUCKET_META = 'x-container-sysmeta-s3-'
const USER_META = 'x-object-meta-'
const S3_SYSMETA = 'x-object-transient-sysmeta-s3-'
const STORED = ['content-disposition', 'content-encoding', 'content-language', 'cache-control', 'expires']
const isFound = (s: number) => s >= 200 && s < 300
const unquote = (s: string | undefined) => (s ?? '').replace(/^"(.*)"$/, '$1')

/** Values of the headers starting with `prefix`, keyed by the rest of the name. */
function withPrefix(h: Record<string, string>, prefix: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const k in h) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = h[k]
  return out
}

function prefixed(values: Record<string, string> | undefined, prefix: string, out: Record<string, string>): void {
  for (const k in values) out[prefix + k] = values[k]
}

/** Seconds of Swift's X-Timestamp as a Date, rounded up as Swift's Last-Modified is. */
function lastModified(h: Record<string, string>): Date {
  const ts = Number(h['x-timestamp'])
  if (Number.isFinite(ts) && ts > 0) return new Date(Math.ceil(ts) * 1000)
  return new Date(h['last-modified'] ?? 0)
}

/** The S3 view of an object answer's headers (`total` is the size when the answer is a range). */
function infoOf(h: Record<string, string>, total?: number): ObjectInfo {
  const headers: StoredHeaders = {}
  for (const k of STORED) if (h[k] !== undefined) headers[k] = h[k]
  const manifest = isManifestAnswer(h)
  return {
    etag: s3Etag(h),
    bytes: manifest ? Number(h[SLO_SIZE]) : total ?? Number(h['content-length'] ?? 0),
    contentType: cleanContentType(h['content-type'] ?? 'application/octet-stream'),
    lastModified: lastModified(h),
    metadata: withPrefix(h, USER_META),
    sysmeta: withPrefix(h, S3_SYSMETA),
    headers,
  }
}

/** The total size in a Content-Range header (`bytes a-b/size`, or `bytes *` + `/size` for a 416). */
function rangeTotal(h: Record<string, string>): number | undefined {
  const m = /\/(\d+)\s*$/.exec(h['content-range'] ?? '')
  return m ? Number(m[1]) : undefined
}

/** A Swift listing timestamp ("2024-01-02T03:04:05.123456", UTC) as a Date. */
const listingDate = (s: string) => new Date(/[zZ]$/.test(s) ? s : `${s}Z`)

/** Rejects a stream when it yields a different MD5 than expected (and computes it for bad-digest answers). */
class Md5Tap extends Transform {
  private readonly hash = createHash('md5')
  digest = ''
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null, d?: Buffer) => void): void {
    this.hash.update(chunk)
    cb(null, chunk)
  }
  override _flush(cb: () => void): void { this.digest = this.hash.digest('hex'); cb() }
}

/** BucketInfo's versioning state, when the container has one. */
function versioningField(h: Record<string, string>): { versioning?: 'Enabled' | 'Suspended' } {
  const status = s3VersioningStatus(h)
  return status ? { versioning: status } : {}
}

/** An object's info with the version that was read (versioned buckets). */
function versionedInfo(info: ObjectInfo, read: S3VersionRead | undefined): ObjectInfo {
  if (read?.kind === 'found' && read.versionId !== undefined) info.versionId = read.versionId
  return info
}

/** `S3Storage` over the proxy: what `createS3Handler` is given in the object store. */
export class ProxyS3Storage implements S3Storage {
  /** Object versioning (object-versioning-s3.ts). */
  readonly versioning: S3Versioning

  constructor(private readonly ctx: ProxyContext) {
    this.versioning = new ProxyS3Versioning(ctx, listingEtag)
  }

  /** A trusted internal request (ids and timestamps as the Swift API's). */
  private req(method: string, account: string, container?: string, obj?: string): SwiftRequest {
    return { method, account, container, obj, query: new URLSearchParams(), headers: {}, id: `tx${randomUUID().replace(/-/g, '')}`, owner: true }
  }

  private containerPart(account: string, container: string): number {
    return this.ctx.client.ring('container').getPartition(this.ctx.client.hashConfig, account, container)
  }

  private async accountTargets(account: string, create: boolean): Promise<{ part: number; found: boolean }> {
    const ring = this.ctx.client.ring('account')
    const part = ring.getPartition(this.ctx.client.hashConfig, account)
    let ai = await this.ctx.infos.account(account)
    if (ai.status === 404 && create) {
      if (!(await autocreateAccount(this.ctx, this.req('PUT', account)))) throw SwiftError.status(503)
      ai = await this.ctx.infos.account(account)
    }
    if (ai.status !== 404 && !isFound(ai.status)) throw new Error(`account ${account} unavailable (${ai.status})`)
    return { part, found: isFound(ai.status) }
  }

  async listBuckets(account: string): Promise<BucketRow[]> {
    const part = this.ctx.client.ring('account').getPartition(this.ctx.client.hashConfig, account)
    const out: BucketRow[] = []
    let marker = ''
    for (;;) {
      const query = new URLSearchParams({ format: 'json', marker, limit: '10000' })
      const a = await this.ctx.client.readNewest('account', part, 'GET', entityPath(account), backendHeaders(this.req('GET', account)), query)
      if (a.status === 404) return out
      if (!isFound(a.status)) throw new Error(`account listing of ${account} failed (${a.status})`)
      const rows = a.body.length ? JSON.parse(a.body.toString('utf8')) as Array<{ name: string; last_modified: string }> : []
      for (const r of rows) out.push({ name: r.name, createdAt: listingDate(r.last_modified) })
      if (rows.length < 10000) return out
      marker = rows[rows.length - 1].name
    }
  }

  private async containerHead(account: string, container: string) {
    const r = this.req('HEAD', account, container)
    const a = await this.ctx.client.readNewest('container', this.containerPart(account, container), 'HEAD', entityPath(account, container), backendHeaders(r))
    if (a.status !== 404 && !isFound(a.status)) throw new Error(`container ${account}/${container} unavailable (${a.status})`)
    return a
  }

  async headBucket(account: string, container: string): Promise<BucketInfo | undefined> {
    const a = await this.containerHead(account, container)
    if (a.status === 404) return undefined
    const h = a.headers
    return {
      createdAt: new Date(Math.floor(Number(h['x-put-timestamp'] ?? h['x-timestamp'] ?? 0)) * 1000),
      objectCount: Number(h['x-container-object-count'] ?? 0),
      bytesUsed: Number(h['x-container-bytes-used'] ?? 0),
      metadata: withPrefix(h, BUCKET_META),
      ...versioningField(h),
    }
  }

  async createBucket(account: string, container: string, metadata: Record<string, string>): Promise<'created' | 'exists'> {
    // A PUT on an existing container would update its metadata: S3 leaves it untouched.
    if ((await this.containerHead(account, container)).status !== 404) return 'exists'
    const acct = await this.accountTargets(account, true)
    const r = this.req('PUT', account, container)
    const base = backendHeaders(r, { 'x-timestamp': this.ctx.now().internal, 'x-backend-storage-policy-default': String(this.defaultPolicy()) })
    prefixed(metadata, BUCKET_META, base)
    const part = this.containerPart(account, container)
    const nodes = this.ctx.client.ring('container').getPartNodes(part)
    const sets = nodes.map(() => ({ ...base }))
    assignTargets(sets, 'account', acct.part, this.ctx.client.ring('account').getPartNodes(acct.part))
    const a = await this.ctx.client.writeAll('container', part, 'PUT', entityPath(account, container), sets)
    this.ctx.infos.forgetContainer(account, container)
    this.ctx.infos.forgetAccount(account)
    if (a.status === 202) return 'exists'
    if (!isFound(a.status)) throw new Error(`container PUT ${account}/${container} failed (${a.status})`)
    return 'created'
  }

  private defaultPolicy(): number {
    return (this.ctx.policies.find((p) => p.isDefault) ?? this.ctx.policies[0])?.index ?? 0
  }

  async deleteBucket(account: string, container: string): Promise<'deleted' | 'not-found' | 'not-empty'> {
    const acct = await this.accountTargets(account, false)
    if (!acct.found) return 'not-found'
    // A versioned bucket goes only without versions; its versions container goes with it.
    const versions = await s3BucketVersions(this.ctx, account, container)
    if (versions === 'not-empty') return 'not-empty'
    const r = this.req('DELETE', account, container)
    const base = backendHeaders(r, { 'x-timestamp': this.ctx.now().internal })
    const part = this.containerPart(account, container)
    const sets = this.ctx.client.ring('container').getPartNodes(part).map(() => ({ ...base }))
    assignTargets(sets, 'account', acct.part, this.ctx.client.ring('account').getPartNodes(acct.part))
    const a = await this.ctx.client.writeAll('container', part, 'DELETE', entityPath(account, container), sets)
    this.ctx.infos.forgetContainer(account, container)
    this.ctx.infos.forgetAccount(account)
    if (a.status === 404 || a.status === 202) return 'not-found'
    if (a.status === 409) return 'not-empty'
    if (!isFound(a.status)) throw new Error(`container DELETE ${account}/${container} failed (${a.status})`)
    if (versions) await s3DropVersions(this.ctx, account, versions)
    return 'deleted'
  }

  async setBucketMetadata(account: string, container: string, changes: Record<string, string | null>): Promise<'ok' | 'not-found'> {
    const r = this.req('POST', account, container)
    const base = backendHeaders(r, { 'x-timestamp': this.ctx.now().internal })
    // An empty value removes a metadata key (Swift's database metadata).
    for (const k in changes) base[BUCKET_META + k] = changes[k] ?? ''
    const part = this.containerPart(account, container)
    const sets = this.ctx.client.ring('container').getPartNodes(part).map(() => ({ ...base }))
    const a = await this.ctx.client.writeAll('container', part, 'POST', entityPath(account, container), sets)
    this.ctx.infos.forgetContainer(account, container)
    if (a.status === 404) return 'not-found'
    if (!isFound(a.status)) throw new Error(`container POST ${account}/${container} failed (${a.status})`)
    return 'ok'
  }

  async listObjects(account: string, container: string, o: ListOptions): Promise<ListResult> {
    const query = new URLSearchParams({ format: 'json', limit: String(o.limit) })
    if (o.prefix) query.set('prefix', o.prefix)
    if (o.delimiter) query.set('delimiter', o.delimiter)
    if (o.marker) query.set('marker', o.marker)
    if (o.endMarker) query.set('end_marker', o.endMarker)
    if (o.reverse) query.set('reverse', 'true')
    const r = this.req('GET', account, container)
    const a = await this.ctx.client.readNewest('container', this.containerPart(account, container), 'GET', entityPath(account, container),
      backendHeaders(r), query)
    if (a.status === 404) return { status: 'no-bucket' }
    if (!isFound(a.status)) throw new Error(`listing of ${account}/${container} failed (${a.status})`)
    type Row = { subdir: string } | { name: string; bytes: number; hash: string; content_type: string; last_modified: string }
    const rows = a.body.length ? JSON.parse(a.body.toString('utf8')) as Row[] : []
    s3ListingRows(rows as ListingRow[], account, container) // versions' links show their versions
    return {
      status: 'ok',
      rows: rows.map((x): ObjectRow | SubdirRow => 'subdir' in x ? { subdir: x.subdir }
        : { name: x.name, bytes: x.bytes, hash: listingEtag(x.hash), contentType: x.content_type, lastModified: listingDate(x.last_modified) }),
    }
  }

  /** Stores a body with the given Swift headers; 'no-bucket' before the body is touched. */
  private async store(account: string, container: string, object: string, body: Readable, contentLength: number | undefined,
                      headers: Record<string, string>, md5?: string): Promise<PutResult> {
    const ci = await this.ctx.infos.container(account, container)
    if (ci.status === 404) return { status: 'no-bucket' }
    if (!isFound(ci.status)) throw new Error(`container ${account}/${container} unavailable (${ci.status})`)
    let bodyError: unknown
    body.once('error', (e) => { bodyError = e })
    const tap = md5 !== undefined ? new Md5Tap() : undefined
    const source = tap ? body.pipe(tap) : body
    if (tap) body.once('error', (e) => tap.destroy(e))
    try {
      // In a bucket whose versioning is Enabled the write is a new version.
      const v = await s3PutVersion(this.ctx, ci, { account, container, obj: object }, source, contentLength, headers)
      if (v?.status === 201) return { status: 'created', etag: v.etag!, lastModified: v.lastModified!, versionId: v.versionId! }
      const a = v ? { status: v.status, headers: {} as Record<string, string> }
        : await storeObject(this.ctx, this.req('PUT', account, container, object), ci, { body: source, contentLength, headers })
      if (a.status === 201) return { status: 'created', etag: unquote(a.headers.etag), lastModified: new Date(a.headers['last-modified']) }
      if (a.status === 422) return { status: 'bad-digest', etag: tap?.digest ?? '' }
      if (a.status === 412) return { status: 'precondition-failed' }
      if (a.status === 404) return { status: 'no-bucket' }
      throw new Error(`object PUT ${account}/${container}/${object} failed (${a.status})`)
    } catch (err) {
      if (bodyError !== undefined) throw bodyError
      throw err
    }
  }

  async putObject(account: string, container: string, object: string, body: Readable, o: PutOptions): Promise<PutResult> {
    const h: Record<string, string> = { 'content-type': o.contentType, ...o.headers }
    prefixed(o.metadata, USER_META, h)
    prefixed(o.sysmeta, S3_SYSMETA, h)
    if (o.md5 !== undefined) h.etag = o.md5
    if (o.ifNoneMatch) h['if-none-match'] = '*'
    return this.store(account, container, object, body, o.contentLength, h, o.md5)
  }

  async putManifest(account: string, container: string, object: string, m: MultipartManifest, o: ManifestOptions): Promise<PutResult> {
    const h: Record<string, string> = { ...o.headers, ...manifestHeaders(m, o.contentType) }
    prefixed(o.metadata, USER_META, h)
    prefixed(o.sysmeta, S3_SYSMETA, h)
    const body = manifestBody(m)
    const r = await this.store(account, container, object, Readable.from([body]), body.length, h)
    return r.status === 'created' ? { ...r, etag: m.etag } : r
  }

  /** GET/HEAD of an object's replicas (no ACL: the S3 layer authorized the caller); undefined without a container. */
  private async read(account: string, container: string, object: string, method: 'GET' | 'HEAD',
                     extra: Record<string, string> = {}): Promise<BackendResponse | undefined> {
    const ci = await this.ctx.infos.container(account, container)
    if (ci.status === 404) return undefined
    if (!isFound(ci.status)) throw new Error(`container ${account}/${container} unavailable (${ci.status})`)
    const { part, path } = objectLocation(this.ctx, account, container, object, ci.policy)
    const headers = backendHeaders(this.req(method, account, container, object), { ...extra, 'x-backend-storage-policy-index': String(ci.policy) })
    return this.ctx.client.readObject(part, method, path, headers, { policy: ci.policy })
  }

  /** read(), following versioning: the current version through its link, or the version asked for. */
  private async readVersioned(account: string, container: string, object: string, method: 'GET' | 'HEAD',
                              extra: Record<string, string>, versionId?: string): Promise<S3VersionRead | undefined> {
    const ci = await this.ctx.infos.container(account, container)
    if (ci.status === 404) return undefined
    if (!isFound(ci.status)) throw new Error(`container ${account}/${container} unavailable (${ci.status})`)
    const v = await s3Read(this.ctx, ci, { account, container, obj: object }, method, extra, versionId)
    if (v) return v
    const resp = await this.read(account, container, object, method, extra)
    return resp && { kind: 'found', resp }
  }

  async headObject(account: string, container: string, object: string, o: ReadOptions = {}): Promise<ReadResult> {
    const x = await this.readVersioned(account, container, object, 'HEAD', {}, o.versionId)
    if (x?.kind === 'delete-marker') return { status: 'delete-marker', versionId: x.versionId, lastModified: x.lastModified }
    const r = x?.kind === 'found' ? x.resp : undefined
    if (!r || r.status === 404) { if (r) discard(r); return { status: 'not-found' } }
    discard(r)
    if (!isFound(r.status)) throw new Error(`object HEAD ${account}/${container}/${object} failed (${r.status})`)
    const info = versionedInfo(infoOf(r.headers), x)
    const verdict = evaluateConditions(info, o.conditions)
    return verdict === 'ok' ? { status: 'ok', info } : { status: verdict, info }
  }

  async getObject(account: string, container: string, object: string, o: ReadOptions = {}): Promise<GetResult> {
    const extra: Record<string, string> = { ...IGNORE_RANGE }
    if (o.range) extra.range = 'suffix' in o.range ? `bytes=-${o.range.suffix}` : `bytes=${o.range.first}-${o.range.last ?? ''}`
    const x = await this.readVersioned(account, container, object, 'GET', extra, o.versionId)
    if (x?.kind === 'delete-marker') return { status: 'delete-marker', versionId: x.versionId, lastModified: x.lastModified }
    const r = x?.kind === 'found' ? x.resp : undefined
    if (!r || r.status === 404) { if (r) discard(r); return { status: 'not-found' } }
    if (!isFound(r.status) && r.status !== 416) {
      discard(r)
      throw new Error(`object GET ${account}/${container}/${object} failed (${r.status})`)
    }
    const isManifest = isManifestAnswer(r.headers)
    const info = versionedInfo(infoOf(r.headers, r.status === 200 ? undefined : rangeTotal(r.headers)), x)
    const verdict = evaluateConditions(info, o.conditions)
    if (verdict !== 'ok') { discard(r); return { status: verdict, info } }
    if (r.status === 416) { discard(r); return { status: 'range-not-satisfiable', info } }
    if (!isManifest) {
      const body = Buffer.isBuffer(r.body) ? Readable.from([r.body]) : r.body ?? Readable.from([])
      if (r.status !== 206) return { status: 'ok', info, body }
      const m = /bytes (\d+)-(\d+)\//.exec(r.headers['content-range'] ?? '')
      if (!m) { discard(r); throw new Error(`multipart range answer for ${account}/${container}/${object}`) }
      return { status: 'ok', info, range: { start: Number(m[1]), end: Number(m[2]) }, body }
    }
    const manifest = await readAll(r)
    let span: { start: number; end: number } | undefined
    if (o.range) {
      const s = resolveRange(o.range, info.bytes)
      if (s === 'unsatisfiable') return { status: 'range-not-satisfiable', info }
      span = s
    }
    const body = streamSegments(manifest, span?.start ?? 0, span?.end ?? info.bytes - 1, async (c, obj, headers) => {
      const got = await this.read(account, c, obj, 'GET', headers)
      return got ?? { status: 404, headers: {} }
    }, `/${account}/${container}/${object}`)
    return span ? { status: 'ok', info, range: span, body } : { status: 'ok', info, body }
  }

  async setObjectSysmeta(account: string, container: string, object: string, changes: Record<string, string | null>): Promise<'ok' | 'not-found'> {
    const ci = await this.ctx.infos.container(account, container)
    if (ci.status === 404) return 'not-found'
    const x = await this.readVersioned(account, container, object, 'HEAD', {})
    const cur = x?.kind === 'found' ? x.resp : undefined
    if (!cur || cur.status === 404) { if (cur) discard(cur); return 'not-found' }
    discard(cur)
    if (!isFound(cur.status)) throw new Error(`object HEAD ${account}/${container}/${object} failed (${cur.status})`)
    // A POST replaces all user metadata, transient sysmeta and stored headers: resend what stays.
    const info = infoOf(cur.headers)
    const sysmeta = { ...info.sysmeta }
    for (const k in changes) { const v = changes[k]; if (v === null) delete sysmeta[k]; else sysmeta[k] = v }
    const h: Record<string, string> = { ...info.headers, 'x-timestamp': this.ctx.now().internal }
    if (cur.headers['x-delete-at'] !== undefined) h['x-delete-at'] = cur.headers['x-delete-at']
    prefixed(info.metadata, USER_META, h)
    prefixed(sysmeta, S3_SYSMETA, h)
    // The current version of a versioned object is where its link points.
    const target = x?.kind === 'found' ? x.target : undefined
    if (target) {
      const st = await s3PostVersion(this.ctx, target, h)
      if (st === 404) return 'not-found'
      if (!isFound(st)) throw new Error(`object POST ${account}/${container}/${object} failed (${st})`)
      return 'ok'
    }
    const { part, nodes, path } = objectLocation(this.ctx, account, container, object, ci.policy)
    const base = backendHeaders(this.req('POST', account, container, object), { ...h, 'x-backend-storage-policy-index': String(ci.policy) })
    const a = await this.ctx.client.writeAll('object', part, 'POST', path, nodes.map(() => ({ ...base })), { policy: ci.policy })
    if (a.status === 404) return 'not-found'
    if (!isFound(a.status)) throw new Error(`object POST ${account}/${container}/${object} failed (${a.status})`)
    return 'ok'
  }

  async deleteObject(account: string, container: string, object: string, options: { versionId?: string } = {}): Promise<DeleteResult> {
    const ci = await this.ctx.infos.container(account, container)
    if (ci.status === 404) return { status: 'no-bucket' }
    if (!isFound(ci.status)) throw new Error(`container ${account}/${container} unavailable (${ci.status})`)
    // Versioned buckets: a delete marker, or one version by id (object-versioning-s3.ts).
    const versioned = await s3Delete(this.ctx, ci, { account, container, obj: object }, options.versionId, async (resp) => {
      if (isManifestAnswer(resp.headers)) return parseManifest(await readAll(resp), s3Etag(resp.headers), Number(resp.headers[SLO_SIZE]))
      discard(resp)
      return undefined
    })
    if (versioned !== 'plain') return versioned
    const cur = await this.read(account, container, object, 'GET', { ...IGNORE_RANGE, range: 'bytes=0-0' })
    if (!cur || cur.status === 404) { if (cur) discard(cur); return { status: 'not-found' } }
    let manifest: MultipartManifest | undefined
    if (isFound(cur.status) && isManifestAnswer(cur.headers)) {
      manifest = parseManifest(await readAll(cur), s3Etag(cur.headers), Number(cur.headers[SLO_SIZE]))
    } else discard(cur)
    const { part, nodes, path } = objectLocation(this.ctx, account, container, object, ci.policy)
    const base = backendHeaders(this.req('DELETE', account, container, object), { 'x-timestamp': this.ctx.now().internal,
      'x-backend-storage-policy-index': String(ci.policy) })
    const sets = nodes.map(() => ({ ...base }))
    const cring = this.ctx.client.ring('container')
    const cpart = cring.getPartition(this.ctx.client.hashConfig, account, container)
    assignTargets(sets, 'container', cpart, cring.getPartNodes(cpart))
    const a = await this.ctx.client.writeAll('object', part, 'DELETE', path, sets, { overrides: { 404: 204 }, policy: ci.policy })
    if (a.status === 404) return { status: 'not-found' }
    if (!isFound(a.status)) throw new Error(`object DELETE ${account}/${container}/${object} failed (${a.status})`)
    return manifest ? { status: 'deleted', manifest } : { status: 'deleted' }
  }
}
