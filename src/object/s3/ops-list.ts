// Object listings: ListObjects (v1), ListObjectsV2 and ListObjectVersions, on Swift's container
// listing (prefix, delimiter, marker, limit). Keys and common prefixes count together against
// max-keys, as in S3; one extra row is asked for to know whether the listing is truncated.
import { inBucket, NO_BUCKET } from './access.ts'
import { ownerOf, sendXml, type Ctx } from './context.ts'
import { s3err } from './errors.ts'
import type { S3Op } from './parse.ts'
import type { ObjectRow } from './port.ts'
import { listBucketV1Xml, listBucketV2Xml, listVersionsXml, type ListedObject } from './xml.ts'

interface Page { account: string; contents: ListedObject[]; prefixes: string[]; truncated: boolean; last?: string }

async function page(ctx: Ctx, bucket: string, o: { prefix: string; delimiter?: string; marker: string; maxKeys: number }): Promise<Page> {
  const { account, rows } = await inBucket(ctx, bucket, 'read', async (t) => {
    // +2: one to detect truncation, one in case the marker itself comes back as a subdir.
    const r = await ctx.s.storage.listObjects(t.account, bucket, {
      limit: o.maxKeys + 2, ...(o.prefix ? { prefix: o.prefix } : {}), ...(o.delimiter ? { delimiter: o.delimiter } : {}),
      ...(o.marker ? { marker: o.marker } : {}),
    })
    return r.status === 'no-bucket' ? NO_BUCKET : { account: t.account, rows: r.rows }
  })
  // Swift leaves out a subdir equal to the marker; this keeps S3 paging right on any backend.
  const usable = rows.filter((r) => !('subdir' in r) || r.subdir !== o.marker)
  const taken = usable.slice(0, o.maxKeys)
  const contents: ListedObject[] = []
  const prefixes: string[] = []
  for (const r of taken) {
    if ('subdir' in r) prefixes.push(r.subdir)
    else contents.push({ key: r.name, lastModified: r.lastModified, etag: r.hash, size: r.bytes })
  }
  const lastRow = taken[taken.length - 1]
  const p: Page = { account, contents, prefixes, truncated: usable.length > o.maxKeys }
  if (lastRow) p.last = 'subdir' in lastRow ? lastRow.subdir : lastRow.name
  return p
}

/** ListObjects (v1). */
export async function listObjectsV1(ctx: Ctx, op: Extract<S3Op, { kind: 'ListObjects' }>): Promise<void> {
  const p = await page(ctx, op.bucket, op)
  sendXml(ctx, 200, listBucketV1Xml({
    bucket: op.bucket, prefix: op.prefix, marker: op.marker, maxKeys: op.maxKeys, isTruncated: p.truncated,
    contents: p.contents, commonPrefixes: p.prefixes, owner: ownerOf(p.account),
    ...(op.delimiter !== undefined ? { delimiter: op.delimiter } : {}),
    // S3 gives NextMarker only with a delimiter; without one the last key is the marker.
    ...(p.truncated && op.delimiter !== undefined && p.last !== undefined ? { nextMarker: p.last } : {}),
    ...(op.encodingType ? { encodingType: op.encodingType } : {}),
  }))
}

/** Continuation tokens are the last name returned, base64url: opaque to clients, stateless here. */
function decodeToken(token: string): string {
  const name = Buffer.from(token, 'base64url').toString('utf8')
  if (!token || Buffer.from(name, 'utf8').toString('base64url') !== token) {
    throw s3err('InvalidArgument', 'The continuation token provided is incorrect', { ArgumentName: 'continuation-token', ArgumentValue: token })
  }
  return name
}

/** ListObjectsV2. */
export async function listObjectsV2(ctx: Ctx, op: Extract<S3Op, { kind: 'ListObjectsV2' }>): Promise<void> {
  const marker = op.continuationToken !== undefined ? decodeToken(op.continuationToken) : (op.startAfter ?? '')
  const p = await page(ctx, op.bucket, { ...op, marker })
  sendXml(ctx, 200, listBucketV2Xml({
    bucket: op.bucket, prefix: op.prefix, maxKeys: op.maxKeys, isTruncated: p.truncated,
    keyCount: p.contents.length + p.prefixes.length, contents: p.contents, commonPrefixes: p.prefixes,
    ...(op.fetchOwner ? { owner: ownerOf(p.account) } : {}),
    ...(op.delimiter !== undefined ? { delimiter: op.delimiter } : {}),
    ...(op.continuationToken !== undefined ? { continuationToken: op.continuationToken } : {}),
    ...(op.startAfter !== undefined ? { startAfter: op.startAfter } : {}),
    ...(p.truncated && p.last !== undefined ? { nextContinuationToken: Buffer.from(p.last, 'utf8').toString('base64url') } : {}),
    ...(op.encodingType ? { encodingType: op.encodingType } : {}),
  }))
}

/** ListObjectVersions: every version with a versioning storage; otherwise each object is its one "null" version. */
export async function listObjectVersions(ctx: Ctx, op: Extract<S3Op, { kind: 'ListObjectVersions' }>): Promise<void> {
  if (ctx.s.storage.versioning) return listAllVersions(ctx, op)
  const p = await page(ctx, op.bucket, { ...op, marker: op.keyMarker })
  sendXml(ctx, 200, listVersionsXml({
    bucket: op.bucket, prefix: op.prefix, keyMarker: op.keyMarker, versionIdMarker: op.versionIdMarker,
    maxKeys: op.maxKeys, isTruncated: p.truncated, contents: p.contents, commonPrefixes: p.prefixes,
    owner: ownerOf(p.account), ...(op.delimiter !== undefined ? { delimiter: op.delimiter } : {}),
    ...(p.truncated && p.last !== undefined ? { nextKeyMarker: p.last, nextVersionIdMarker: 'null' } : {}),
    ...(op.encodingType ? { encodingType: op.encodingType } : {}),
  }))
}

/** ListObjectVersions over the storage's versions listing (Swift's `?versions`, as s3api maps it). */
async function listAllVersions(ctx: Ctx, op: Extract<S3Op, { kind: 'ListObjectVersions' }>): Promise<void> {
  const versioning = ctx.s.storage.versioning!
  if (op.versionIdMarker && !op.keyMarker) {
    throw s3err('InvalidArgument', 'A version-id marker cannot be specified without a key marker.',
      { ArgumentName: 'version-id-marker', ArgumentValue: op.versionIdMarker })
  }
  const { account, rows } = await inBucket(ctx, op.bucket, 'read', async (t) => {
    const r = await versioning.listVersions(t.account, op.bucket, {
      limit: op.maxKeys + 2, ...(op.prefix ? { prefix: op.prefix } : {}), ...(op.delimiter ? { delimiter: op.delimiter } : {}),
      ...(op.keyMarker ? { keyMarker: op.keyMarker } : {}), ...(op.versionIdMarker ? { versionIdMarker: op.versionIdMarker } : {}),
    })
    return r.status === 'no-bucket' ? NO_BUCKET : { account: t.account, rows: r.rows }
  })
  // A subdir equal to the key marker was listed on the previous page.
  const usable = rows.filter((r) => !('subdir' in r) || r.subdir !== op.keyMarker)
  const taken = usable.slice(0, op.maxKeys)
  const contents: ListedObject[] = []
  const prefixes: string[] = []
  for (const r of taken) {
    if ('subdir' in r) prefixes.push(r.subdir)
    else {
      contents.push({ key: r.name, lastModified: r.lastModified, etag: r.hash, size: r.bytes, versionId: r.versionId,
        isLatest: r.isLatest, ...(r.deleteMarker ? { deleteMarker: true } : {}) })
    }
  }
  const truncated = usable.length > op.maxKeys
  const last = taken[taken.length - 1]
  const next = truncated && last ? ('subdir' in last ? { nextKeyMarker: last.subdir, nextVersionIdMarker: 'null' }
    : { nextKeyMarker: last.name, nextVersionIdMarker: last.versionId }) : {}
  sendXml(ctx, 200, listVersionsXml({
    bucket: op.bucket, prefix: op.prefix, keyMarker: op.keyMarker, versionIdMarker: op.versionIdMarker,
    maxKeys: op.maxKeys, isTruncated: truncated, contents, commonPrefixes: prefixes, owner: ownerOf(account),
    ...(op.delimiter !== undefined ? { delimiter: op.delimiter } : {}), ...next,
    ...(op.encodingType ? { encodingType: op.encodingType } : {}),
  }))
}

/** Every object row of a container (under `prefix`), page by page; [] when it does not exist. */
export async function listAll(ctx: Ctx, account: string, container: string, o: { prefix?: string; marker?: string }): Promise<ObjectRow[]> {
  const out: ObjectRow[] = []
  let marker = o.marker
  for (;;) {
    const r = await ctx.s.storage.listObjects(account, container, {
      limit: 10000, ...(o.prefix ? { prefix: o.prefix } : {}), ...(marker ? { marker } : {}),
    })
    if (r.status === 'no-bucket') return out
    for (const row of r.rows) if (!('subdir' in row)) out.push(row)
    if (r.rows.length < 10000) return out
    const last = r.rows[r.rows.length - 1]!
    marker = 'subdir' in last ? last.subdir : last.name
  }
}
