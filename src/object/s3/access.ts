// Which account a bucket lives in, and whether the requester may use it.
//
// Buckets are Swift containers of the owner's account, but S3 bucket names are global and an
// anonymous request names no account. So the S3 layer keeps a registry, through the same port:
// one object per bucket name in `<registryAccount>/buckets` (a reserved account, '.s3' by
// default), whose sysmeta `owner` is the owning account, written with If-None-Match: * so two
// accounts can't both claim a name.
//
// An authenticated request works in its own account with no extra lookup (the fast path); only
// when the bucket isn't there is the registry asked, and another account's bucket is then used
// as far as its canned ACL allows. Anonymous requests always go through the registry.
import { Readable } from 'node:stream'
import { aclAllows, storedAcl } from './acl.ts'
import type { Ctx } from './context.ts'
import type { BucketInfo } from './port.ts'
import { accessDenied, noSuchBucket, s3err } from './errors.ts'

/** What an operation needs: to read, to write objects, or to be the owner (bucket settings). */
export type Access = 'read' | 'write' | 'owner'

/** The account to work in; `objectAclDecides` when only the object's own ACL can allow a read. */
export interface Target { account: string; own: boolean; objectAclDecides?: boolean }

/** Returned by an operation's storage step when the container does not exist. */
export const NO_BUCKET = Symbol('no-bucket')

const REGISTRY = 'buckets'
const OWNER_TTL_MS = 5000
const OWNER_CACHE_MAX = 10000

/** Registry answers kept briefly (per handler: owner changes are rare and made through it). */
export type OwnerCache = Map<string, { owner: string | undefined; until: number }>

/** The account owning `bucket` according to the registry (cached for a few seconds). */
export async function registryOwner(ctx: Ctx, bucket: string): Promise<string | undefined> {
  const cache = ctx.s.ownerCache
  const now = Date.now()
  const hit = cache.get(bucket)
  if (hit && hit.until > now) return hit.owner
  const r = await ctx.s.storage.headObject(ctx.s.registryAccount, REGISTRY, bucket)
  const owner = r.status === 'ok' ? r.info.sysmeta.owner : undefined
  if (cache.size >= OWNER_CACHE_MAX) cache.delete(cache.keys().next().value!)
  cache.set(bucket, { owner, until: now + OWNER_TTL_MS })
  return owner
}

/** Claims `bucket` for `account`; BucketAlreadyExists when another account holds it. */
export async function registerBucket(ctx: Ctx, bucket: string, account: string): Promise<void> {
  const st = ctx.s.storage
  const put = () => st.putObject(ctx.s.registryAccount, REGISTRY, bucket, emptyBody(),
    { contentType: 'application/x-s3-bucket', contentLength: 0, metadata: {}, sysmeta: { owner: account }, ifNoneMatch: '*' })
  let r = await put()
  if (r.status === 'no-bucket') {
    await st.createBucket(ctx.s.registryAccount, REGISTRY, {})
    r = await put()
  }
  ctx.s.ownerCache.delete(bucket)
  if (r.status === 'created') return
  if (r.status !== 'precondition-failed') throw new Error(`bucket registry write failed: ${r.status}`)
  const owner = await registryOwner(ctx, bucket)
  if (owner === account) return
  if (owner && !(await st.headBucket(owner, bucket))) {
    // A stale claim (its container was removed without DeleteBucket, e.g. through Swift): take it over.
    const again = await st.putObject(ctx.s.registryAccount, REGISTRY, bucket, emptyBody(),
      { contentType: 'application/x-s3-bucket', contentLength: 0, metadata: {}, sysmeta: { owner: account } })
    ctx.s.ownerCache.delete(bucket)
    if (again.status === 'created') return
  }
  throw s3err('BucketAlreadyExists', 'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.',
    { BucketName: bucket })
}

/** Releases `bucket` if `account` holds it. */
export async function unregisterBucket(ctx: Ctx, bucket: string, account: string): Promise<void> {
  if ((await registryOwner(ctx, bucket)) === account) {
    await ctx.s.storage.deleteObject(ctx.s.registryAccount, REGISTRY, bucket)
  }
  ctx.s.ownerCache.delete(bucket)
}

/** Where to look first: the requester's own account, or (anonymous) the registered owner's. */
export async function resolveBucket(ctx: Ctx, bucket: string, access: Access): Promise<Target> {
  if (ctx.account) return { account: ctx.account, own: true }
  return foreignBucket(ctx, bucket, access)
}

/** Another account's bucket, if its ACL lets the requester in. */
export async function foreignBucket(ctx: Ctx, bucket: string, access: Access): Promise<Target> {
  const owner = await registryOwner(ctx, bucket)
  if (!owner || owner === ctx.account) throw noSuchBucket(bucket)
  const info = await ctx.s.storage.headBucket(owner, bucket)
  if (!info) throw noSuchBucket(bucket)
  if (access === 'owner') throw accessDenied()
  const authenticated = ctx.auth !== undefined
  if (aclAllows(storedAcl(info.metadata.acl), access, authenticated)) return { account: owner, own: false }
  // A private bucket may still hold public objects: a read is decided by the object's ACL.
  if (access === 'read' && (ctx.op.kind === 'GetObject' || ctx.op.kind === 'HeadObject')) {
    return { account: owner, own: false, objectAclDecides: true }
  }
  throw accessDenied()
}

/**
 * Runs an operation's storage step in the right account: the own account first (authenticated),
 * then, if the bucket isn't there, another account's bucket the ACL opens. `run` returns
 * NO_BUCKET when storage reported a missing container; it must not have consumed a request body
 * then (the port answers 'no-bucket' before reading it).
 */
export async function inBucket<T>(ctx: Ctx, bucket: string, access: Access,
                                  run: (t: Target) => Promise<T | typeof NO_BUCKET>): Promise<T> {
  const t = await resolveBucket(ctx, bucket, access)
  const r = await run(t)
  if (r !== NO_BUCKET) return r
  if (t.own) {
    const again = await run(await foreignBucket(ctx, bucket, access))
    if (again !== NO_BUCKET) return again
  }
  throw noSuchBucket(bucket)
}

/** Owner-only operations: the bucket must exist in the requester's own account. */
export async function ownBucket(ctx: Ctx, bucket: string): Promise<{ account: string; metadata: Record<string, string>; info: BucketInfo }> {
  if (!ctx.account) throw accessDenied()
  const info = await ctx.s.storage.headBucket(ctx.account, bucket)
  if (info) return { account: ctx.account, metadata: info.metadata, info }
  await foreignBucket(ctx, bucket, 'owner') // throws NoSuchBucket or AccessDenied
  throw noSuchBucket(bucket)
}

/** An empty request body, for registry and marker objects. */
export function emptyBody(): Readable {
  return Readable.from([])
}
