// Object operations: put, get, head, delete, bulk delete, copy and object ACLs.
import type { Readable } from 'node:stream'
import { aclAllows, cannedFromHeaders, grantsOf, storedAcl } from './acl.ts'
import { inBucket, NO_BUCKET, ownBucket, type Target } from './access.ts'
import { parseRangeHeader, resolveRange } from './conditions.ts'
import { header, objectHeaders, ownerOf, quoteEtag, send, sendXml, uploadAttributes, type Ctx } from './context.ts'
import { accessDenied, noSuchKey, S3Error, s3err } from './errors.ts'
import { requestedAcl } from './ops-bucket.ts'
import { MAX_KEY_BYTES, type CopySource, type S3Op } from './parse.ts'
import type { GetResult, MultipartManifest, ObjectInfo, ReadResult } from './port.ts'
import { conditionsOf, contentMd5, eachLimited, readDocument, uploadBody } from './requests.ts'
import { aclXml, copyResultXml, deleteResultXml, type DeletedKey } from './xml.ts'
import { readDelete } from './xml-requests.ts'

const noSuchVersion = (key: string, versionId: string) =>
  s3err('NoSuchVersion', 'The specified version does not exist.', { Key: key, VersionId: versionId })

/** Without a versioning storage, objects have one version, "null". */
function checkVersion(ctx: Ctx, key: string, versionId: string | undefined): void {
  if (versionId !== undefined && versionId !== 'null' && !ctx.s.storage.versioning) throw noSuchVersion(key, versionId)
}

/** The version a request names, for the storage (with versioning, 'null' too). */
function versionOption(ctx: Ctx, versionId: string | undefined): { versionId?: string } {
  return versionId !== undefined && ctx.s.storage.versioning ? { versionId } : {}
}

/** x-amz-version-id of an answer, when the storage said which version it is. */
function versionHeader(versionId: string | undefined): Record<string, string> {
  return versionId === undefined ? {} : { 'x-amz-version-id': versionId }
}

/** PutObject. */
export async function putObject(ctx: Ctx, bucket: string, key: string): Promise<void> {
  const attrs = uploadAttributes(ctx)
  const acl = cannedFromHeaders(ctx.req.headers, true)
  const md5 = contentMd5(ctx)
  const ifNoneMatch = header(ctx, 'if-none-match')
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') {
    throw s3err('NotImplemented', 'Conditional writes support only If-None-Match: *.')
  }
  if (header(ctx, 'if-match') !== undefined) throw s3err('NotImplemented', 'Conditional writes with If-Match are not implemented by this server.')
  const body = uploadBody(ctx)
  const r = await inBucket(ctx, bucket, 'write', async (t) => {
    const put = await ctx.s.storage.putObject(t.account, bucket, key, body.body, {
      ...attrs, contentLength: body.length, ...(md5 ? { md5 } : {}), sysmeta: acl ? { acl } : {},
      ...(ifNoneMatch !== undefined ? { ifNoneMatch: '*' as const } : {}),
    })
    return put.status === 'no-bucket' ? NO_BUCKET : put
  })
  if (r.status === 'bad-digest') throw s3err('BadDigest', 'The Content-MD5 you specified did not match what we received.')
  if (r.status === 'precondition-failed') {
    throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { Condition: 'If-None-Match' })
  }
  const checksum = body.checksum()
  send(ctx, 200, undefined, { etag: quoteEtag(r.etag), ...(checksum ? { [checksum.header]: checksum.value } : {}),
    ...versionHeader(r.versionId) })
}

/** The body-less answers of a read, shared by GET and HEAD. */
function readFailure(ctx: Ctx, key: string, r: Exclude<ReadResult, { status: 'ok' }>, objectAclDecides?: boolean,
                     versionId?: string): never | 'sent' {
  switch (r.status) {
    case 'not-found':
      // Without the right to list, S3 doesn't tell a missing key from a forbidden one.
      if (objectAclDecides) throw accessDenied()
      throw versionId !== undefined && versionId !== 'null' ? noSuchVersion(key, versionId) : noSuchKey(key)
    case 'delete-marker':
      // A delete marker has no data: S3 answers 405 and says what it is.
      throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.',
        { Method: ctx.req.method ?? 'GET', ResourceType: 'DeleteMarker' },
        { 'x-amz-delete-marker': 'true', 'x-amz-version-id': r.versionId, 'last-modified': r.lastModified.toUTCString() })
    case 'not-modified':
      send(ctx, 304, undefined, { etag: quoteEtag(r.info.etag), 'last-modified': r.info.lastModified.toUTCString() })
      return 'sent'
    case 'precondition-failed':
      throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold',
        { Condition: header(ctx, 'if-match') !== undefined ? 'If-Match' : 'If-Unmodified-Since' })
    case 'range-not-satisfiable':
      throw new S3Error('InvalidRange', 'The requested range is not satisfiable',
        { RangeRequested: header(ctx, 'range') ?? '', ActualObjectSize: String(r.info.bytes) },
        { 'content-range': `bytes */${r.info.bytes}` })
  }
}

/** Response header overrides (response-content-type=...), for signed requests only, as S3. */
function overrides(ctx: Ctx, op: Extract<S3Op, { kind: 'GetObject' | 'HeadObject' }>): Record<string, string> {
  if (Object.keys(op.overrides).length && !ctx.auth) {
    throw s3err('InvalidRequest', 'Request specific response headers cannot be used for anonymous GET requests.')
  }
  return op.overrides
}

function checkObjectAcl(ctx: Ctx, t: Target, info: ObjectInfo): void {
  if (t.objectAclDecides && !aclAllows(storedAcl(info.sysmeta.acl), 'read', ctx.auth !== undefined)) throw accessDenied()
}

/** GetObject: streams the body (or a range of it) from storage to the client. */
export async function getObject(ctx: Ctx, op: Extract<S3Op, { kind: 'GetObject' }>): Promise<void> {
  checkVersion(ctx, op.key, op.versionId)
  const extra = overrides(ctx, op)
  const range = parseRangeHeader(header(ctx, 'range'))
  const conditions = conditionsOf(ctx)
  const { g, t } = await inBucket(ctx, op.bucket, 'read', async (t) => {
    const g: GetResult = await ctx.s.storage.getObject(t.account, op.bucket, op.key,
      { ...(conditions ? { conditions } : {}), ...(range ? { range } : {}), ...versionOption(ctx, op.versionId) })
    if (g.status === 'not-found' && !t.objectAclDecides && !(await ctx.s.storage.headBucket(t.account, op.bucket))) return NO_BUCKET
    return { g, t }
  })
  if (g.status !== 'ok') {
    if ('info' in g) checkObjectAcl(ctx, t, g.info)
    readFailure(ctx, op.key, g, t.objectAclDecides, op.versionId)
    return
  }
  try {
    checkObjectAcl(ctx, t, g.info)
  } catch (e) {
    g.body.destroy()
    throw e
  }
  const res = ctx.res
  const headers = { ...objectHeaders(g.info), ...versionHeader(g.info.versionId), ...extra }
  res.statusCode = g.range ? 206 : 200
  if (g.range) headers['content-range'] = `bytes ${g.range.start}-${g.range.end}/${g.info.bytes}`
  headers['content-length'] = String(g.range ? g.range.end - g.range.start + 1 : g.info.bytes)
  res.setHeader('x-amz-request-id', ctx.requestId)
  res.setHeader('x-amz-id-2', ctx.requestId)
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v)
  await streamBody(ctx, g.body)
}

/**
 * Pipes an object body to the response. Once headers are out, a failing body can only be
 * signalled by cutting the connection, so the client never takes a short body for a whole one.
 * (Plain pipe rather than stream.pipeline: pipeline's AbortController costs a DOMException per
 * request, measurable on small objects.)
 */
function streamBody(ctx: Ctx, body: Readable): Promise<void> {
  const res = ctx.res
  return new Promise((resolve) => {
    body.once('error', (e) => {
      ctx.s.logger?.error({ err: e }, 's3 GET body failed')
      res.destroy()
      resolve()
    })
    res.once('finish', resolve)
    res.once('close', () => {
      if (!res.writableFinished) body.destroy()
      resolve()
    })
    body.pipe(res)
  })
}

/** HeadObject. */
export async function headObject(ctx: Ctx, op: Extract<S3Op, { kind: 'HeadObject' }>): Promise<void> {
  checkVersion(ctx, op.key, op.versionId)
  const extra = overrides(ctx, op)
  const conditions = conditionsOf(ctx)
  const { r, t } = await inBucket(ctx, op.bucket, 'read', async (t) => {
    const r = await ctx.s.storage.headObject(t.account, op.bucket, op.key,
      { ...(conditions ? { conditions } : {}), ...versionOption(ctx, op.versionId) })
    if (r.status === 'not-found' && !t.objectAclDecides && !(await ctx.s.storage.headBucket(t.account, op.bucket))) return NO_BUCKET
    return { r, t }
  })
  if ('info' in r) checkObjectAcl(ctx, t, r.info)
  if (r.status !== 'ok') {
    readFailure(ctx, op.key, r, t.objectAclDecides, op.versionId)
    return
  }
  const headers: Record<string, string> = { ...objectHeaders(r.info), ...versionHeader(r.info.versionId), ...extra,
    'content-length': String(r.info.bytes) }
  const range = parseRangeHeader(header(ctx, 'range'))
  if (range) {
    const span = resolveRange(range, r.info.bytes)
    if (span === 'unsatisfiable') readFailure(ctx, op.key, { status: 'range-not-satisfiable', info: r.info })
    else {
      headers['content-range'] = `bytes ${span.start}-${span.end}/${r.info.bytes}`
      headers['content-length'] = String(span.end - span.start + 1)
      send(ctx, 206, undefined, headers)
      return
    }
  }
  send(ctx, 200, undefined, headers)
}

/** Deletes the segments of a deleted multipart object; a failure only leaves garbage, never loses data. */
export async function deleteSegments(ctx: Ctx, account: string, manifest: MultipartManifest): Promise<void> {
  await eachLimited(manifest.segments, 8, async (s) => {
    try {
      await ctx.s.storage.deleteObject(account, s.container, s.object)
    } catch (e) {
      ctx.s.logger?.error({ err: e, segment: `${s.container}/${s.object}` }, 's3 segment cleanup failed')
    }
  })
}

/** What a delete did: the version deleted or the marker written. */
interface Deleted { versionId?: string; deleteMarker?: boolean }

/** Deletes one object (or one version) in a resolved account; NO_BUCKET when the container is missing. */
async function deleteOne(ctx: Ctx, account: string, bucket: string, key: string, versionId?: string): Promise<typeof NO_BUCKET | Deleted> {
  const r = await ctx.s.storage.deleteObject(account, bucket, key, versionOption(ctx, versionId))
  if (r.status === 'no-bucket') return NO_BUCKET
  if (r.status !== 'deleted') return versionId === undefined ? {} : { versionId }
  if (r.manifest) await deleteSegments(ctx, account, r.manifest)
  return { ...(r.versionId !== undefined ? { versionId: r.versionId } : {}), ...(r.deleteMarker ? { deleteMarker: true } : {}) }
}

/** DeleteObject: 204 whether or not the key existed, as S3. */
export async function deleteObject(ctx: Ctx, op: Extract<S3Op, { kind: 'DeleteObject' }>): Promise<void> {
  if (op.versionId !== undefined && op.versionId !== 'null' && !ctx.s.storage.versioning) {
    throw s3err('InvalidArgument', 'Invalid version id specified', { ArgumentName: 'versionId', ArgumentValue: op.versionId })
  }
  const d = await inBucket(ctx, op.bucket, 'write', (t) => deleteOne(ctx, t.account, op.bucket, op.key, op.versionId))
  send(ctx, 204, undefined, { ...versionHeader(d.versionId), ...(d.deleteMarker ? { 'x-amz-delete-marker': 'true' } : {}) })
}

/** DeleteObjects: up to 1000 keys; per-key failures are reported in the result, not as a request error. */
export async function deleteObjects(ctx: Ctx, bucket: string): Promise<void> {
  const doc = readDelete(await readDocument(ctx, 2 * 1024 * 1024))
  const account = await inBucket(ctx, bucket, 'write',
    async (t) => ((await ctx.s.storage.headBucket(t.account, bucket)) ? t.account : NO_BUCKET))
  const deleted: DeletedKey[] = []
  const errors: Array<{ key: string; code: string; message: string }> = []
  await eachLimited(doc.objects, 16, async (o) => {
    if (o.versionId !== undefined && o.versionId !== 'null' && !ctx.s.storage.versioning) {
      errors.push({ key: o.key, code: 'NoSuchVersion', message: 'The specified version does not exist.' })
      return
    }
    if (Buffer.byteLength(o.key) > MAX_KEY_BYTES || !o.key) {
      errors.push({ key: o.key, code: 'InvalidArgument', message: 'Invalid key' })
      return
    }
    try {
      const d = await deleteOne(ctx, account, bucket, o.key, o.versionId)
      if (d === NO_BUCKET) throw new Error('bucket vanished')
      const row: DeletedKey = { key: o.key }
      if (o.versionId !== undefined) row.versionId = o.versionId
      if (d.deleteMarker) { row.deleteMarker = true; if (d.versionId !== undefined) row.deleteMarkerVersionId = d.versionId }
      deleted.push(row)
    } catch (e) {
      ctx.s.logger?.error({ err: e, key: o.key }, 's3 bulk delete failed for a key')
      errors.push({ key: o.key, code: 'InternalError', message: 'We encountered an internal error. Please try again.' })
    }
  })
  sendXml(ctx, 200, deleteResultXml(doc.quiet ? [] : deleted, errors))
}

/** Opens a copy source for reading (read access, x-amz-copy-source-if-* conditions, optional range). */
export async function openCopySource(ctx: Ctx, src: CopySource, range?: { first: number; last: number }):
  Promise<{ info: ObjectInfo; body: Readable; range?: { start: number; end: number } }> {
  checkVersion(ctx, src.key, src.versionId)
  const conditions = conditionsOf(ctx, 'x-amz-copy-source-')
  const { g, t } = await inBucket(ctx, src.bucket, 'read', async (t) => {
    const g = await ctx.s.storage.getObject(t.account, src.bucket, src.key,
      { ...(conditions ? { conditions } : {}), ...(range ? { range } : {}), ...versionOption(ctx, src.versionId) })
    if (g.status === 'not-found' && !(await ctx.s.storage.headBucket(t.account, src.bucket))) return NO_BUCKET
    return { g, t }
  })
  switch (g.status) {
    case 'not-found':
      if (t.objectAclDecides) throw accessDenied()
      throw src.versionId !== undefined && src.versionId !== 'null' ? noSuchVersion(src.key, src.versionId) : noSuchKey(src.key)
    case 'delete-marker':
      throw s3err('InvalidRequest', 'The source of a copy request may not specifically refer to a delete marker by version id.')
    case 'not-modified':
    case 'precondition-failed':
      throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { Condition: 'x-amz-copy-source-If' })
    case 'range-not-satisfiable':
      throw s3err('InvalidArgument', `Range specified is not valid for source object of size: ${g.info.bytes}`,
        { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: header(ctx, 'x-amz-copy-source-range') ?? '' })
  }
  try {
    checkObjectAcl(ctx, t, g.info)
  } catch (e) {
    g.body.destroy()
    throw e
  }
  return { info: g.info, body: g.body, ...(g.range ? { range: g.range } : {}) }
}

/** CopyObject: a server-side GET of the source streamed into a PUT of the destination. */
export async function copyObject(ctx: Ctx, op: Extract<S3Op, { kind: 'CopyObject' }>): Promise<void> {
  const directive = (header(ctx, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase()
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw s3err('InvalidArgument', 'Unknown metadata directive.', { ArgumentName: 'x-amz-metadata-directive', ArgumentValue: directive })
  }
  if (op.source.bucket === op.bucket && op.source.key === op.key && directive === 'COPY' && op.source.versionId === undefined) {
    throw s3err('InvalidRequest', "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
  }
  const replaced = directive === 'REPLACE' ? uploadAttributes(ctx) : undefined
  const acl = cannedFromHeaders(ctx.req.headers, true)
  const src = await openCopySource(ctx, op.source)
  let consumed = false
  try {
    if (src.info.bytes > ctx.s.maxObjectSize) {
      throw s3err('InvalidRequest', `The specified copy source is larger than the maximum allowable size for a copy source: ${ctx.s.maxObjectSize}`)
    }
    const attrs = replaced ?? { contentType: src.info.contentType, metadata: src.info.metadata, headers: src.info.headers }
    const r = await inBucket(ctx, op.bucket, 'write', async (t) => {
      const put = await ctx.s.storage.putObject(t.account, op.bucket, op.key, src.body,
        { ...attrs, contentLength: src.info.bytes, sysmeta: acl ? { acl } : {} })
      if (put.status === 'no-bucket') return NO_BUCKET
      consumed = true
      return put
    })
    if (r.status !== 'created') throw new Error(`copy: unexpected put result ${r.status}`)
    const sourceVersion: Record<string, string> = src.info.versionId === undefined ? {} : { 'x-amz-copy-source-version-id': src.info.versionId }
    sendXml(ctx, 200, copyResultXml('CopyObjectResult', r.etag, r.lastModified), { ...sourceVersion, ...versionHeader(r.versionId) })
  } finally {
    if (!consumed) src.body.destroy()
  }
}

/** GetObjectAcl. */
export async function getObjectAcl(ctx: Ctx, bucket: string, key: string): Promise<void> {
  const { account } = await ownBucket(ctx, bucket)
  const r = await ctx.s.storage.headObject(account, bucket, key)
  if (r.status !== 'ok') throw noSuchKey(key)
  const owner = ownerOf(account)
  sendXml(ctx, 200, aclXml(owner, grantsOf(storedAcl(r.info.sysmeta.acl), owner)))
}

/** PutObjectAcl. */
export async function putObjectAcl(ctx: Ctx, bucket: string, key: string): Promise<void> {
  const { account } = await ownBucket(ctx, bucket)
  const acl = await requestedAcl(ctx, account, true)
  if ((await ctx.s.storage.setObjectSysmeta(account, bucket, key, { acl })) !== 'ok') throw noSuchKey(key)
  send(ctx, 200, undefined)
}
