// The internal requests versioning makes on the caller's behalf (Swift's pre-authed subrequests
// with X-Backend-Allow-Reserved-Names): object reads, writes, posts and deletes anywhere in the
// account, hidden containers included, container sysmeta updates and raw JSON listings. The
// caller has been authorized already; nothing here checks an ACL. These go straight to the
// controllers' building blocks (versioning is the innermost middleware, so that is also where its
// subrequests would land), which lets the S3 port share them.
import { Readable } from 'node:stream'
import type { BackendResponse } from '../storage/backend.ts'
import { containerRequest } from './container.ts'
import { CONSTRAINTS } from './constraints.ts'
import { type ProxyContext, backendHeaders } from './context.ts'
import { assignTargets, numContainerUpdates, objectHeaders } from './headers.ts'
import type { ContainerInfo } from './info-cache.ts'
import { objectLocation, readObjectRaw } from './object.ts'
import { type ClientAnswer, type SwiftRequest } from './request.ts'
import { subrequest } from './pipeline.ts'
import { putFanout } from './put-fanout.ts'
import type { NodeAnswer } from './quorum.ts'
import { entityPath } from './storage-client.ts'
import { ALLOW_RESERVED, RESERVED } from './object-versioning-names.ts'
import type { Timestamp } from '../ring/timestamp.ts'

/** Where an object is. */
export interface Place { account: string; container: string; obj: string }

export const isFound = (s: number) => s >= 200 && s < 300
const isReserved = (p: { container: string; obj?: string }) => p.container.startsWith(RESERVED) || !!p.obj?.startsWith(RESERVED)

/** A preauthorized subrequest of `parent` (same caller, trans id and env). */
export function internalRequest(parent: SwiftRequest, method: string, p: { account: string; container: string; obj?: string },
                                source: string, headers: Record<string, string> = {}): SwiftRequest {
  return subrequest(parent, { method, account: p.account, container: p.container, obj: p.obj, headers, source, preauthorized: true })
}

/** Reads an object's replicas as the proxy (headers unfiltered: sysmeta included); the body still streams. */
export async function readAs(ctx: ProxyContext, parent: SwiftRequest, p: Place, method: 'GET' | 'HEAD',
                             headers: Record<string, string>, o: { newest?: boolean; source: string }): Promise<BackendResponse> {
  const r = internalRequest(parent, method, p, o.source)
  const h = { ...headers }
  if (isReserved(p)) h[ALLOW_RESERVED] = 'true'
  return readObjectRaw(ctx, r, method, backendHeaders(r, h), !!o.newest)
}

/** A read answer's body as a stream (small bodies arrive buffered). */
export function bodyStream(r: BackendResponse): Readable {
  if (r.body === undefined) return Readable.from([])
  return Buffer.isBuffer(r.body) ? Readable.from([r.body]) : r.body
}

/** Per-node backend headers of an object write, with the container updates spread over them. */
function writeSets(ctx: ProxyContext, r: SwiftRequest, ci: ContainerInfo, p: Place, nodeCount: number,
                   extra: Record<string, string>): Record<string, string>[] {
  const base = backendHeaders(r, { ...extra, 'x-backend-storage-policy-index': String(ci.policy) })
  if (isReserved(p)) base[ALLOW_RESERVED] = 'true'
  const sets = Array.from({ length: nodeCount }, () => ({ ...base }))
  const cring = ctx.client.ring('container')
  const cpart = cring.getPartition(ctx.client.hashConfig, p.account, p.container)
  const containers = cring.getPartNodes(cpart)
  assignTargets(sets, 'container', cpart, containers, numContainerUpdates(containers.length, nodeCount))
  return sets
}

/** What writeAs stores. */
export interface RawWrite {
  /** Headers to store, client-style (content-type, etag to verify, metadata, sysmeta...). */
  headers: Record<string, string>
  timestamp: Timestamp
  body?: Readable
  contentLength: number | undefined
}

/**
 * Stores an object as the proxy, without the client-facing checks (delete markers carry a
 * `swift_` content-type parameter no client may send). 404 when the container does not exist.
 */
export async function writeAs(ctx: ProxyContext, parent: SwiftRequest, p: Place, w: RawWrite, source: string): Promise<ClientAnswer> {
  const ci = await ctx.infos.container(p.account, p.container)
  if (ci.status === 404 || !isFound(ci.status)) {
    w.body?.destroy()
    return { status: ci.status === 404 ? 404 : 503, headers: {} }
  }
  const r = internalRequest(parent, 'PUT', p, source)
  const { part, nodes, path } = objectLocation(ctx, p.account, p.container, p.obj, ci.policy)
  const stored = objectHeaders(w.headers)
  // Large-object flags stay with a copy (objectHeaders leaves them to the slo/dlo paths).
  for (const k of ['x-object-manifest', 'x-static-large-object']) if (w.headers[k] !== undefined) stored[k] = w.headers[k]
  const sets = writeSets(ctx, r, ci, p, nodes.length, { ...stored, 'x-timestamp': w.timestamp.internal })
  const result = await putFanout({
    client: ctx.client, part, policy: ci.policy, path, headers: sets, body: w.body ?? Readable.from([]),
    contentLength: w.contentLength, maxBytes: CONSTRAINTS.max_file_size, clientTimeoutMs: ctx.clientTimeoutMs,
    nodeTimeoutMs: ctx.nodeTimeoutMs,
  })
  return { status: result.status, headers: result.headers, body: result.body }
}

/** Sends a POST or DELETE to an object's replicas as the proxy; the merged answer. */
export async function objectWriteAs(ctx: ProxyContext, parent: SwiftRequest, p: Place, method: 'POST' | 'DELETE',
                                    headers: Record<string, string>, timestamp: Timestamp, source: string): Promise<NodeAnswer> {
  const ci = await ctx.infos.container(p.account, p.container)
  if (ci.status === 404) return { status: 404, headers: {}, body: Buffer.alloc(0) }
  if (!isFound(ci.status)) return { status: 503, headers: {}, body: Buffer.alloc(0) }
  const r = internalRequest(parent, method, p, source)
  const { part, nodes, path } = objectLocation(ctx, p.account, p.container, p.obj, ci.policy)
  const extra = method === 'POST' ? objectHeaders(headers) : { ...headers }
  const sets = writeSets(ctx, r, ci, p, nodes.length, { ...extra, 'x-timestamp': timestamp.internal })
  // As the object controller: a replica without the object counts as deleted when others disagree.
  return ctx.client.writeAll('object', part, method, path, sets,
    method === 'DELETE' ? { overrides: { 404: 204 }, policy: ci.policy } : { policy: ci.policy })
}

/** Sets (or, with '', removes) container sysmeta on every replica; the merged status. */
export async function postContainerSysmeta(ctx: ProxyContext, parent: SwiftRequest, account: string, container: string,
                                           values: Record<string, string>, source: string): Promise<number> {
  const r = internalRequest(parent, 'POST', { account, container }, source)
  const ring = ctx.client.ring('container')
  const part = ring.getPartition(ctx.client.hashConfig, account, container)
  const base = backendHeaders(r, { ...values, 'x-timestamp': ctx.now().internal })
  const answer = await ctx.client.writeAll('container', part, 'POST', entityPath(account, container), ring.getPartNodes(part).map(() => ({ ...base })))
  ctx.infos.forgetContainer(account, container)
  return answer.status
}

/** Runs a container request (PUT, DELETE, HEAD) through the container controller as the proxy. */
export function containerAs(ctx: ProxyContext, parent: SwiftRequest, method: string, account: string, container: string,
                            headers: Record<string, string>, source: string): Promise<ClientAnswer> {
  return containerRequest(ctx, internalRequest(parent, method, { account, container }, source, headers))
}

/** A row of a JSON container listing. */
export interface ListingRow {
  name?: string
  subdir?: string
  bytes?: number
  hash?: string
  content_type?: string
  last_modified?: string
  [k: string]: unknown
}

/** A container's or account's JSON listing read from its replicas, reserved names included when asked for. */
export async function listAs(ctx: ProxyContext, parent: SwiftRequest, account: string, container: string | undefined,
                             params: Record<string, string>, o: { reserved: boolean; source: string }):
  Promise<{ status: number; headers: Record<string, string>; rows: ListingRow[] }> {
  const kind = container === undefined ? 'account' : 'container'
  const ring = ctx.client.ring(kind)
  const part = container === undefined ? ring.getPartition(ctx.client.hashConfig, account)
    : ring.getPartition(ctx.client.hashConfig, account, container)
  const r = internalRequest(parent, 'GET', { account, container: container ?? '' }, o.source)
  const query = new URLSearchParams({ ...params, format: 'json' })
  const h = backendHeaders(r, o.reserved ? { [ALLOW_RESERVED]: 'true' } : {})
  const a = await ctx.client.readNewest(kind, part, 'GET', entityPath(account, container), h, query)
  const rows = isFound(a.status) && a.body.length ? JSON.parse(a.body.toString('utf8')) as ListingRow[] : []
  return { status: a.status, headers: a.headers, rows }
}

/** A container's HEAD answer read fresh from its replicas (not the info cache). */
export function headContainerAs(ctx: ProxyContext, parent: SwiftRequest, account: string, container: string, source: string): Promise<NodeAnswer> {
  const r = internalRequest(parent, 'HEAD', { account, container }, source)
  const part = ctx.client.ring('container').getPartition(ctx.client.hashConfig, account, container)
  return ctx.client.readNewest('container', part, 'HEAD', entityPath(account, container), backendHeaders(r))
}

/**
 * Makes sure the account's ACL is in the info cache before checkAccess reads it (the proxy does
 * this just before its controllers; versioning authorizes earlier, before writing anything).
 */
export async function loadAccountAcl(ctx: ProxyContext, req: SwiftRequest): Promise<void> {
  if (req.preauthorized || !req.identity) return
  try { await ctx.infos.account(req.account) } catch { /* unreachable account: no ACL applies */ }
}

/** Releases a read answer's body. */
export function release(r: BackendResponse | ClientAnswer): void {
  if (r.body instanceof Readable) r.body.destroy()
}

/** Headers of a read answer worth copying onto a copy of the object (Swift copies all but X-Timestamp). */
export function copyableHeaders(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const k in h) {
    if (k.startsWith('x-backend-') || COPY_SKIP.has(k)) continue
    out[k] = h[k]
  }
  return out
}

const COPY_SKIP = new Set(['x-timestamp', 'last-modified', 'content-length', 'accept-ranges', 'content-range', 'date',
  'connection', 'transfer-encoding', 'x-trans-id', 'x-openstack-request-id', 'server'])
