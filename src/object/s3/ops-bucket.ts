// Bucket operations: list, create, head, delete, location, ACL and versioning.
import { cannedFromHeaders, cannedFromPolicy, grantsOf, storedAcl, type CannedAcl } from './acl.ts'
import { inBucket, NO_BUCKET, ownBucket, registerBucket, unregisterBucket } from './access.ts'
import { header, ownerOf, send, sendXml, type Ctx } from './context.ts'
import { accessDenied, noSuchBucket, s3err } from './errors.ts'
import { checkNewBucketName, segmentsContainer } from './names.ts'
import { listAll } from './ops-list.ts'
import { eachLimited, readDocument } from './requests.ts'
import { aclXml, listAllMyBucketsXml, locationXml, versioningXml } from './xml.ts'
import { readAccessControlPolicy, readCreateBucketConfiguration, readVersioning } from './xml-requests.ts'

/** Names a container can have and still be an S3 bucket (segments containers are hidden). */
const S3_NAME = /^[A-Za-z0-9._-]{1,255}$/

/** ListBuckets. */
export async function listBuckets(ctx: Ctx): Promise<void> {
  if (!ctx.account) throw accessDenied()
  const rows = await ctx.s.storage.listBuckets(ctx.account)
  sendXml(ctx, 200, listAllMyBucketsXml(ownerOf(ctx.account), rows.filter((r) => S3_NAME.test(r.name))))
}

/** CreateBucket: validates, claims the name in the registry, creates the container with its ACL. */
export async function createBucket(ctx: Ctx, bucket: string): Promise<void> {
  if (!ctx.account) throw accessDenied()
  const account = ctx.account
  checkNewBucketName(bucket)
  const acl = cannedFromHeaders(ctx.req.headers, false) ?? 'private'
  if (header(ctx, 'x-amz-bucket-object-lock-enabled')?.toLowerCase() === 'true') {
    throw s3err('NotImplemented', 'Object Lock is not implemented by this server.')
  }
  const doc = await readDocument(ctx, 64 * 1024)
  if (doc.trim()) {
    const lc = readCreateBucketConfiguration(doc).locationConstraint
    if (lc && lc !== ctx.s.region) {
      throw s3err('IllegalLocationConstraintException',
        `The ${lc} location constraint is incompatible for the region specific endpoint this request was sent to.`)
    }
  }
  const exists = () => s3err('BucketAlreadyOwnedByYou',
    'Your previous request to create the named bucket succeeded and you already own it.', { BucketName: bucket })
  if (await ctx.s.storage.headBucket(account, bucket)) throw exists()
  await registerBucket(ctx, bucket, account)
  if ((await ctx.s.storage.createBucket(account, bucket, { acl })) === 'exists') throw exists()
  send(ctx, 200, undefined, { location: `/${bucket}` })
}

/** HeadBucket. */
export async function headBucket(ctx: Ctx, bucket: string): Promise<void> {
  await inBucket(ctx, bucket, 'read', async (t) => (await ctx.s.storage.headBucket(t.account, bucket)) ? true : NO_BUCKET)
  send(ctx, 200, undefined, { 'x-amz-bucket-region': ctx.s.region })
}

/**
 * DeleteBucket: the container must be empty. Uploads still in progress are aborted with it
 * (their parts and markers live in the segments container, removed afterwards).
 */
export async function deleteBucket(ctx: Ctx, bucket: string): Promise<void> {
  const { account, info } = await ownBucket(ctx, bucket)
  const st = ctx.s.storage
  const r = await st.deleteBucket(account, bucket)
  if (r === 'not-found') throw noSuchBucket(bucket)
  if (r === 'not-empty') {
    throw s3err('BucketNotEmpty', `The bucket you tried to delete is not empty${info.versioning ? '. You must delete all versions in the bucket.' : ''}`,
      { BucketName: bucket })
  }
  const segments = segmentsContainer(bucket)
  await eachLimited(await listAll(ctx, account, segments, {}), 8, async (row) => { await st.deleteObject(account, segments, row.name) })
  await st.deleteBucket(account, segments)
  await unregisterBucket(ctx, bucket, account)
  send(ctx, 204, undefined)
}

/** GetBucketLocation. */
export async function getBucketLocation(ctx: Ctx, bucket: string): Promise<void> {
  await ownBucket(ctx, bucket)
  sendXml(ctx, 200, locationXml(ctx.s.region))
}

/** GetBucketAcl. */
export async function getBucketAcl(ctx: Ctx, bucket: string): Promise<void> {
  const { account, metadata } = await ownBucket(ctx, bucket)
  const owner = ownerOf(account)
  sendXml(ctx, 200, aclXml(owner, grantsOf(storedAcl(metadata.acl), owner)))
}

/** The canned ACL of a Put*Acl request: the x-amz-acl header or an AccessControlPolicy body. */
export async function requestedAcl(ctx: Ctx, account: string, forObject: boolean): Promise<CannedAcl> {
  const fromHeader = cannedFromHeaders(ctx.req.headers, forObject)
  const doc = await readDocument(ctx, 64 * 1024)
  if (fromHeader) {
    if (doc.trim()) throw s3err('InvalidRequest', 'Specifying both a canned ACL and an ACL document is not allowed')
    return fromHeader
  }
  if (!doc.trim()) throw s3err('MissingSecurityHeader', 'Your request was missing a required header', { MissingHeaderName: 'x-amz-acl' })
  return cannedFromPolicy(readAccessControlPolicy(doc), ownerOf(account))
}

/** PutBucketAcl. */
export async function putBucketAcl(ctx: Ctx, bucket: string): Promise<void> {
  const { account } = await ownBucket(ctx, bucket)
  const acl = await requestedAcl(ctx, account, false)
  if ((await ctx.s.storage.setBucketMetadata(account, bucket, { acl })) !== 'ok') throw noSuchBucket(bucket)
  send(ctx, 200, undefined)
}

/**
 * GetBucketVersioning: the storage's state when it keeps versions; otherwise versioning is never
 * enabled, so only a recorded "Suspended" can show.
 */
export async function getBucketVersioning(ctx: Ctx, bucket: string): Promise<void> {
  const { metadata, info } = await ownBucket(ctx, bucket)
  const status = ctx.s.storage.versioning ? info.versioning : metadata.versioning === 'Suspended' ? 'Suspended' : undefined
  sendXml(ctx, 200, versioningXml(status))
}

/**
 * PutBucketVersioning: Enabled or Suspended through the storage's versioning. A storage without
 * it refuses Enabled rather than recording and ignoring it; Suspended is what an unversioned
 * bucket already does.
 */
export async function putBucketVersioning(ctx: Ctx, bucket: string): Promise<void> {
  const { account } = await ownBucket(ctx, bucket)
  const v = readVersioning(await readDocument(ctx, 64 * 1024))
  if (v.mfaDelete === 'Enabled') throw s3err('NotImplemented', 'MFA delete is not implemented by this server.')
  const versioning = ctx.s.storage.versioning
  if (versioning) {
    if (v.status && (await versioning.setVersioning(account, bucket, v.status)) !== 'ok') throw noSuchBucket(bucket)
    send(ctx, 200, undefined)
    return
  }
  if (v.status === 'Enabled') throw s3err('NotImplemented', 'Object versioning is not implemented by this server.')
  if (v.status && (await ctx.s.storage.setBucketMetadata(account, bucket, { versioning: v.status })) !== 'ok') {
    throw noSuchBucket(bucket)
  }
  send(ctx, 200, undefined)
}
