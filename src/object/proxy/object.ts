// /v1/<account>/<container>/<object>: GET and HEAD (ranges and conditionals answered by the
// object server), PUT (streamed to every replica), POST (metadata), DELETE; COPY and PUT with
// X-Copy-From are the copy middleware's (copy.ts). As Swift's proxy/controllers/obj.py for
// replicated policies.
import type { Readable } from 'node:stream'
import type { BackendResponse } from '../storage/backend.ts'
import { Timestamp } from '../ring/timestamp.ts'
import { httpDate, isTrue } from '../storage/storage-util.ts'
import { checkDeleteHeaders, checkMetadata, checkObjectCreation, messageLength, CONSTRAINTS } from './constraints.ts'
import { type ProxyContext, backendHeaders, checkAccess } from './context.ts'
import { SwiftError } from './errors.ts'
import { answerBody, assignTargets, numContainerUpdates, objectHeaders } from './headers.ts'
import type { ContainerInfo } from './info-cache.ts'
import { guessType } from './mime.ts'
import { putFanout } from './put-fanout.ts'
import { type ClientAnswer, type SwiftRequest, responseHeaders } from './request.ts'
import { entityPath } from './storage-client.ts'

/** Handles a request on an object. */
export async function objectRequest(ctx: ProxyContext, req: SwiftRequest): Promise<ClientAnswer> {
  switch (req.method) {
    case 'GET': case 'HEAD': return getOrHead(ctx, req)
    case 'PUT': return put(ctx, req)
    case 'POST': return post(ctx, req)
    case 'DELETE': return del(ctx, req)
    default: throw SwiftError.status(405, { allow: 'GET, HEAD, PUT, POST, DELETE' })
  }
}

const isFound = (s: number) => s >= 200 && s < 300

/** Where an object lives: its partition in its container's policy ring. */
export function objectLocation(ctx: ProxyContext, account: string, container: string, obj: string, policy: number) {
  const ring = ctx.client.ring('object', policy)
  const part = ring.getPartition(ctx.client.hashConfig, account, container, obj)
  return { ring, part, nodes: ring.getPartNodes(part), path: entityPath(account, container, obj) }
}

/**
 * Reads an object (for a client, or as the source of a copy): authorized by the container's
 * read ACL, then the first replica that has it answers. The body is still streaming; headers
 * are the object server's.
 */
export async function readObjectRaw(ctx: ProxyContext, req: SwiftRequest, method: 'GET' | 'HEAD', headers: Record<string, string>,
                                    newest: boolean): Promise<BackendResponse> {
  const ci = await ctx.infos.container(req.account, req.container!)
  checkAccess(ctx, req, ci.readAcl)
  const { part, path } = objectLocation(ctx, req.account, req.container!, req.obj!, ci.policy)
  return ctx.client.readObject(part, method, path, { ...headers, 'x-backend-storage-policy-index': String(ci.policy) },
    { newest, policy: ci.policy })
}

/**
 * Set by a middleware on a request (clients cannot send x-backend-*): its object answer keeps
 * the object's sysmeta, which the middleware needs (SLO's size and ETag, the metadata a copy
 * carries over) and removes before anything reaches the client (Swift's gatekeeper does that
 * at the pipeline's edge).
 */
export const KEEP_SYSMETA = 'x-backend-keep-sysmeta'

const OBJECT_SYSMETA = /^x-object-(transient-)?sysmeta-/

/** A backend object answer shaped for the client: bare ETag, no backend headers, swob's error pages. */
export function objectAnswer(req: SwiftRequest, resp: BackendResponse): ClientAnswer {
  const out = responseHeaders(resp.headers, req.owner)
  if (req.headers[KEEP_SYSMETA] !== undefined) for (const k in resp.headers) if (OBJECT_SYSMETA.test(k)) out[k] = resp.headers[k]
  // Swift's proxy serves bare MD5 ETags.
  if (out.etag) out.etag = out.etag.replace(/^"(.*)"$/, '$1')
  if (resp.status >= 400 && resp.status !== 416) {
    // Error answers were buffered by the storage client; an empty one gets swob's page.
    if (resp.body && !Buffer.isBuffer(resp.body)) resp.body.destroy()
    const a = answerBody({ status: resp.status, headers: resp.headers, body: Buffer.isBuffer(resp.body) ? resp.body : Buffer.alloc(0) })
    if (a.contentType) out['content-type'] = a.contentType
    delete out['content-length']
    return { status: resp.status, headers: out, body: a.body }
  }
  if (resp.status === 200 || resp.status === 206) out['accept-ranges'] = 'bytes'
  return { status: resp.status, headers: out, body: resp.body }
}

async function getOrHead(ctx: ProxyContext, req: SwiftRequest): Promise<ClientAnswer> {
  const headers = backendHeaders(req, objectHeaders(req.headers))
  return objectAnswer(req, await readObjectRaw(ctx, req, req.method as 'GET' | 'HEAD', headers, isTrue(req.headers['x-newest'])))
}

/** The container of an object write, after authorization by its write ACL; 404 when it does not exist. */
export async function writableContainer(ctx: ProxyContext, req: SwiftRequest): Promise<ContainerInfo> {
  const ci = await ctx.infos.container(req.account, req.container!)
  checkAccess(ctx, req, ci.writeAcl)
  if (ci.status === 404) throw SwiftError.status(404)
  if (!isFound(ci.status)) throw SwiftError.status(503)
  return ci
}

/** The request's X-Timestamp (container sync sends one) or a fresh one. */
function requestTimestamp(ctx: ProxyContext, req: SwiftRequest): Timestamp {
  const v = req.headers['x-timestamp']
  if (v === undefined) return ctx.now()
  try { return new Timestamp(v) } catch {
    throw SwiftError.text(400, `X-Timestamp should be a UNIX timestamp float value; was '${v}'`)
  }
}

/** Per-node backend headers for an object write, with the container updates spread over them. */
function writeHeaders(ctx: ProxyContext, req: SwiftRequest, ci: ContainerInfo, nodeCount: number, base: Record<string, string>): Record<string, string>[] {
  const sets = Array.from({ length: nodeCount }, () => ({ ...base, 'x-backend-storage-policy-index': String(ci.policy) }))
  const cring = ctx.client.ring('container')
  const cpart = cring.getPartition(ctx.client.hashConfig, req.account, req.container!)
  const containers = cring.getPartNodes(cpart)
  assignTargets(sets, 'container', cpart, containers, numContainerUpdates(containers.length, nodeCount))
  return sets
}

/**
 * Large-object headers objects store (X-Object-Manifest: DLO; X-Static-Large-Object: SLO, set
 * by the slo middleware only) that objectHeaders (headers.ts) leaves out of what it forwards.
 */
function withLargeObjectHeaders(out: Record<string, string>, h: Record<string, string>, names: readonly string[]): Record<string, string> {
  for (const k of names) if (h[k] !== undefined) out[k] = h[k]
  return out
}

/** What storeObject needs besides the request: the body and the headers to store. */
export interface StoreOptions {
  body?: Readable
  contentLength?: number
  /** Client-visible headers to store (content-type, metadata, allowed headers, etag to verify). */
  headers: Record<string, string>
  /** Headers added to the client's 201. */
  responseHeaders?: Record<string, string>
}

/** Validates and streams an object to its replicas (the core of PUT and of copies). */
export async function storeObject(ctx: ProxyContext, req: SwiftRequest, ci: ContainerInfo, o: StoreOptions): Promise<ClientAnswer> {
  const ts = requestTimestamp(ctx, req)
  const h = o.headers
  if (!h['content-type'] || isTrue(h['x-detect-content-type'])) h['content-type'] = guessType(req.obj!) ?? 'application/octet-stream'
  // An SLO manifest's Content-Type carries the SLO's size (swift_bytes, for the listing); only
  // the slo middleware sets X-Static-Large-Object, so only it gets past the swift_* check.
  const ctype = h['content-type']
  if (isTrue(h['x-static-large-object'])) h['content-type'] = ctype.replace(/;\s*swift_bytes=\d+/, '')
  checkObjectCreation(h, req.obj!, ts.seconds)
  h['content-type'] = ctype
  const { part, nodes, path } = objectLocation(ctx, req.account, req.container!, req.obj!, ci.policy)
  if (!nodes.length) throw SwiftError.status(404)
  const stored = withLargeObjectHeaders(objectHeaders(h), h, ['x-object-manifest', 'x-static-large-object'])
  const sets = writeHeaders(ctx, req, ci, nodes.length, backendHeaders(req, { ...stored, 'x-timestamp': ts.internal }))
  const result = await putFanout({
    client: ctx.client, part, policy: ci.policy, path, headers: sets, body: o.body, contentLength: o.contentLength,
    maxBytes: CONSTRAINTS.max_file_size, clientTimeoutMs: ctx.clientTimeoutMs, nodeTimeoutMs: ctx.nodeTimeoutMs,
  })
  const out: Record<string, string> = {}
  if (isFound(result.status)) {
    if (result.headers.etag) out.etag = result.headers.etag
    out['last-modified'] = httpDate(ts.ceil())
    Object.assign(out, o.responseHeaders)
  }
  const { body, contentType } = answerBody({ status: result.status, headers: result.headers, body: result.body })
  out['content-type'] = contentType ?? 'text/html; charset=UTF-8'
  return { status: result.status, headers: out, body }
}

async function put(ctx: ProxyContext, req: SwiftRequest): Promise<ClientAnswer> {
  const inm = req.headers['if-none-match']
  if (inm !== undefined && inm.trim() !== '*') throw SwiftError.text(400, 'If-None-Match only supports *')
  const ci = await writableContainer(ctx, req)
  const contentLength = messageLength(req.headers)
  return storeObject(ctx, req, ci, { body: req.body, contentLength, headers: { ...req.headers } })
}

async function post(ctx: ProxyContext, req: SwiftRequest): Promise<ClientAnswer> {
  const ci = await writableContainer(ctx, req)
  checkMetadata(req.headers, 'object')
  const ts = requestTimestamp(ctx, req)
  const h = { ...req.headers }
  checkDeleteHeaders(h, ts.seconds)
  const { part, nodes, path } = objectLocation(ctx, req.account, req.container!, req.obj!, ci.policy)
  const stored = withLargeObjectHeaders(objectHeaders(h), h, ['x-object-manifest'])
  const sets = writeHeaders(ctx, req, ci, nodes.length, backendHeaders(req, { ...stored, 'x-timestamp': ts.internal }))
  const answer = await ctx.client.writeAll('object', part, 'POST', path, sets, { policy: ci.policy })
  const { body, contentType } = answerBody(answer)
  return { status: answer.status, headers: contentType ? { 'content-type': contentType } : {}, body }
}

async function del(ctx: ProxyContext, req: SwiftRequest): Promise<ClientAnswer> {
  const ci = await writableContainer(ctx, req)
  const ts = requestTimestamp(ctx, req)
  const { part, nodes, path } = objectLocation(ctx, req.account, req.container!, req.obj!, ci.policy)
  const extra: Record<string, string> = { 'x-timestamp': ts.internal }
  if (req.headers['x-if-delete-at'] !== undefined) extra['x-if-delete-at'] = req.headers['x-if-delete-at']
  const sets = writeHeaders(ctx, req, ci, nodes.length, backendHeaders(req, extra))
  // A replica without the object counts as deleted when the others disagree (Swift's 404 → 204 override).
  const answer = await ctx.client.writeAll('object', part, 'DELETE', path, sets, { overrides: { 404: 204 }, policy: ci.policy })
  const { body, contentType } = answerBody(answer)
  return { status: answer.status, headers: contentType ? { 'content-type': contentType } : {}, body }
}
