// What every controller of the Swift proxy shares: the storage client, the info cache, the
// authorization options and the proxy's clock.
import { Timestamp } from '../ring/timestamp.ts'
import type { StorageLogger } from '../storage/backend.ts'
import { type AccessRequest, type KeystoneAuthOptions, authorize } from './acl.ts'
import type { ContainerSyncSettings } from './container-sync-realms.ts'
import type { CorsSettings } from './cors.ts'
import { SwiftError } from './errors.ts'
import type { InfoCache } from './info-cache.ts'
import type { SwiftRequest } from './request.ts'
import type { StorageClient } from './storage-client.ts'

/** A storage policy as the proxy publishes it. */
export interface ProxyPolicy { index: number; name: string; isDefault?: boolean }

/** The proxy's shared state. */
export interface ProxyContext {
  client: StorageClient
  infos: InfoCache
  auth: KeystoneAuthOptions
  /** A new, strictly increasing X-Timestamp. */
  now(): Timestamp
  log: StorageLogger
  /** How long a client may stay silent while uploading (Swift's client_timeout). */
  clientTimeoutMs: number
  nodeTimeoutMs: number
  policies: readonly ProxyPolicy[]
  /** The proxy's CORS settings (Swift's cors_allow_origin, cors_expose_headers, strict_cors_mode). */
  cors: CorsSettings
  /** Container sync realms and rules (container-sync-realms.conf, allowed_sync_hosts). */
  containerSync: ContainerSyncSettings
}

/** Headers every backend request carries (Swift's generate_request_headers). */
export function backendHeaders(req: SwiftRequest, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'x-trans-id': req.id,
    'x-openstack-request-id': req.id,
    'user-agent': `proxy-server ${process.pid}`,
    referer: `${req.method} ${req.account}${req.container ? '/' + req.container : ''}${req.obj ? '/' + req.obj : ''}`,
    ...extra,
  }
}

/**
 * Authorizes the request against the account (its owners and its X-Account-Access-Control)
 * and, when given, the container ACL that applies (Swift's swift.authorize with req.acl). Sets
 * `req.owner`; throws 401/403 when denied. The account ACL is read from the info cache without
 * waiting: `loadAccountAcl` (which the proxy runs before its controllers) fetches it.
 */
export function checkAccess(ctx: ProxyContext, req: SwiftRequest, acl?: string): void {
  if (req.preauthorized) {
    // A middleware authorized the request (tempurl, formpost) and may limit its subrequests to a
    // scope (Swift's swift.authorize set by tempurl): a key for one container covers only it.
    const scope = req.env?.get('swift.authorize')
    const denied = typeof scope === 'function' ? (scope as (r: SwiftRequest) => SwiftError | undefined)(req) : undefined
    if (denied) throw denied
    req.owner = false
    return
  }
  const r: AccessRequest = { method: req.method, account: req.account, container: req.container, obj: req.obj,
    referer: req.headers.referer, acl: undefined }
  // As Swift's proxy: authorize once without the ACL (owners, reseller admins); only a denial is
  // rechecked against the container's ACL, so an owner stays an owner on a public container.
  let d = authorize(req.identity, r, ctx.auth)
  if (!d.allowed && req.identity) {
    r.accountAcl = ctx.infos.peekAccount(req.account)?.acl
    if (r.accountAcl) d = authorize(req.identity, r, ctx.auth)
  }
  if (!d.allowed && acl !== undefined) d = authorize(req.identity, { ...r, acl }, ctx.auth)
  if (!d.allowed) throw SwiftError.status(d.status)
  req.owner = d.owner
}

/**
 * Makes the account's ACL available to `checkAccess` when it could matter: a caller with a
 * token whom keystoneauth alone would refuse. Owners and anonymous callers cost nothing.
 */
export async function loadAccountAcl(ctx: ProxyContext, req: SwiftRequest): Promise<void> {
  if (req.preauthorized || !req.identity || req.method === 'OPTIONS') return
  const r: AccessRequest = { method: req.method, account: req.account, container: req.container, obj: req.obj }
  if (authorize(req.identity, r, ctx.auth).allowed) return
  try { await ctx.infos.account(req.account) } catch { /* unreachable account: no ACL applies */ }
}

/** The policy with a given index, or the default. */
export function policyName(ctx: ProxyContext, index: number): string {
  return (ctx.policies.find((p) => p.index === index) ?? ctx.policies[0])?.name ?? 'Policy-0'
}

/** A strictly increasing clock of Swift timestamps: two requests never share one. */
export function timestampSource(): () => Timestamp {
  let last = 0
  return () => {
    let t = Math.round(Date.now() * 100) // 10 µs units
    if (t <= last) t = last + 1
    last = t
    return new Timestamp(t / 100000)
  }
}
