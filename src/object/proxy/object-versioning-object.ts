// Object requests in containers with object versioning (Swift's ObjectContext.handle_request):
// PUT and DELETE version while versioning is on, GET/HEAD follow the current version's link and
// say which version they serve (X-Object-Version-Id), POST reaches the current version, and
// ?version-id=<id> addresses one version (GET, HEAD, DELETE, and PUT to make it current again).
// Authorization is the controllers' as far as possible: the container's ACLs for the current
// version, an owner for a specific version (Swift checks those against the hidden container,
// which has no ACLs).
import { Timestamp } from '../ring/timestamp.ts'
import { isTrue } from '../storage/storage-util.ts'
import { messageLength } from './constraints.ts'
import { type ProxyContext, checkAccess } from './context.ts'
import { SwiftError } from './errors.ts'
import { answerBody, objectHeaders } from './headers.ts'
import type { ContainerInfo } from './info-cache.ts'
import { objectAnswer } from './object.ts'
import {
  type Versioned, deleteVersion, deleteWithMarker, isDeleteMarker, postToLinkedVersion, putVersion, readLatest, readNull,
  readVersion, restoreVersion, versioningOf,
} from './object-versioning-core.ts'
import { isFound, loadAccountAcl, release } from './object-versioning-io.ts'
import { DELETE_MARKER_CONTENT_TYPE, validateVersion } from './object-versioning-names.ts'
import type { SwiftHandler } from './pipeline.ts'
import type { NodeAnswer } from './quorum.ts'
import type { ClientAnswer, SwiftRequest } from './request.ts'
import { quote } from './storage-client.ts'

/** Authorizes as the controllers would: `acl` of the container, or owners only when undefined. */
async function authorize(ctx: ProxyContext, req: SwiftRequest, acl: string | undefined): Promise<void> {
  await loadAccountAcl(ctx, req)
  checkAccess(ctx, req, acl)
}

/** The request's X-Timestamp, or now. */
function requestTimestamp(ctx: ProxyContext, req: SwiftRequest): Timestamp {
  const v = req.headers['x-timestamp']
  if (v === undefined) return ctx.now()
  try { return new Timestamp(v) } catch {
    throw SwiftError.text(400, `X-Timestamp should be a UNIX timestamp float value; was '${v}'`)
  }
}

/** A merged backend answer as the client gets it. */
function clientAnswer(a: NodeAnswer, extra: Record<string, string> = {}): ClientAnswer {
  const { body, contentType } = answerBody(a)
  return { status: a.status, headers: { ...(contentType ? { 'content-type': contentType } : {}), ...extra }, body }
}

/** Handles an object request; `next` serves what versioning leaves alone. */
export async function versionedObjectRequest(ctx: ProxyContext, next: SwiftHandler, req: SwiftRequest): Promise<ClientAnswer> {
  const ci = await ctx.infos.container(req.account, req.container!)
  const state = versioningOf(ci)
  const v: Versioned = { ctx, req, place: { account: req.account, container: req.container!, obj: req.obj! },
    versionsCont: state.versionsCont, enabled: state.enabled }
  const versionId = req.query.get('version-id')
  if (versionId) return withVersionId(v, ci, next, versionId)
  if (!v.versionsCont) return next(req) // never versioned
  switch (req.method) {
    case 'PUT': return v.enabled ? put(v, ci) : next(req)
    case 'DELETE': return v.enabled ? del(v, ci) : next(req)
    case 'POST': return post(v, next)
    case 'GET': case 'HEAD': return getLatest(v, ci)
    default: return next(req)
  }
}

async function put(v: Versioned, ci: ContainerInfo): Promise<ClientAnswer> {
  const { ctx, req } = v
  const inm = req.headers['if-none-match']
  if (inm !== undefined && inm.trim() !== '*') throw SwiftError.text(400, 'If-None-Match only supports *')
  await authorize(ctx, req, ci.writeAcl)
  const contentLength = messageLength(req.headers)
  const r = await putVersion(v, { body: req.body, contentLength, headers: { ...req.headers }, timestamp: requestTimestamp(ctx, req) })
  return { status: r.status, headers: { 'content-type': 'text/html; charset=UTF-8', ...r.headers }, body: r.body }
}

async function del(v: Versioned, ci: ContainerInfo): Promise<ClientAnswer> {
  const { ctx, req } = v
  await authorize(ctx, req, ci.writeAcl)
  const extra: Record<string, string> = {}
  if (req.headers['x-if-delete-at'] !== undefined) extra['x-if-delete-at'] = req.headers['x-if-delete-at']
  const d = await deleteWithMarker(v, requestTimestamp(ctx, req), extra)
  const marked = isFound(d.answer.status) || d.answer.status === 404
  return clientAnswer(d.answer, marked ? { 'x-object-version-id': d.versionId } : {})
}

async function post(v: Versioned, next: SwiftHandler): Promise<ClientAnswer> {
  const answer = await next(v.req)
  if (!isFound(answer.status)) return answer
  // The controller authorized the POST; its metadata also goes to the version a link points to.
  const followed = await postToLinkedVersion(v, v.req.headers)
  return followed ? clientAnswer(followed) : answer
}

/** Content-Location of a version served through its link (Swift's rewritten symlink location). */
function contentLocation(v: Versioned, versionId: string): string {
  const version = (v.req.env?.get('swift.version') as string | undefined) ?? 'v1'
  return `${quote(`/${version}/${v.place.account}/${v.place.container}/${v.place.obj}`)}?version-id=${versionId}`
}

async function getLatest(v: Versioned, ci: ContainerInfo): Promise<ClientAnswer> {
  const { ctx, req } = v
  await authorize(ctx, req, ci.readAcl)
  const r = await readLatest(v, req.method as 'GET' | 'HEAD', objectHeaders(req.headers), isTrue(req.headers['x-newest']))
  const a = objectAnswer(req, r.resp)
  a.headers['x-object-version-id'] = r.versionId
  if (r.linked) a.headers['content-location'] = contentLocation(v, r.versionId)
  return a
}

async function withVersionId(v: Versioned, ci: ContainerInfo, next: SwiftHandler, versionId: string): Promise<ClientAnswer> {
  const { ctx, req } = v
  if (req.method === 'POST') throw SwiftError.text(400, `${req.method} to a specific version is not allowed`)
  if (!v.versionsCont && versionId !== 'null') {
    throw SwiftError.text(400, 'version-aware operations require that the container is versioned')
  }
  validateVersion(versionId, true)
  switch (req.method) {
    case 'DELETE': {
      if (versionId === 'null') return next(req) // whatever the user container holds
      await authorize(ctx, req, undefined)
      const d = await deleteVersion(v, versionId)
      const extra: Record<string, string> = { 'x-object-version-id': versionId, 'x-object-current-version-id': d.currentVersionId }
      return clientAnswer(d.answer, extra)
    }
    case 'PUT': {
      validateVersion(versionId, false)
      await authorize(ctx, req, ci.writeAcl)
      const te = req.headers['transfer-encoding']
      const cl = req.headers['content-length']
      if (te === undefined && cl === undefined) throw SwiftError.status(411)
      if ((cl !== undefined && cl.trim() !== '0') || (te !== undefined && req.body && await hasBody(req))) {
        throw SwiftError.text(400, 'PUT version-id requests require a zero byte body')
      }
      const r = await restoreVersion(v, versionId, { ...req.headers })
      return { status: r.status, headers: { 'content-type': 'text/html; charset=UTF-8', ...r.headers }, body: r.body }
    }
    case 'GET': case 'HEAD': {
      const method = req.method
      if (versionId === 'null') {
        await authorize(ctx, req, ci.readAcl)
        const resp = await readNull(v, method, objectHeaders(req.headers), isTrue(req.headers['x-newest']))
        if (!resp) throw SwiftError.status(404) // the current version has a real id
        const a = objectAnswer(req, resp)
        if (isFound(a.status)) a.headers['x-object-version-id'] = 'null'
        return a
      }
      await authorize(ctx, req, undefined)
      const resp = await readVersion(v, versionId, method, objectHeaders(req.headers), isTrue(req.headers['x-newest']))
      if (isFound(resp.status) && isDeleteMarker(resp.headers)) {
        release(resp)
        throw SwiftError.status(404, { 'x-object-version-id': versionId, 'content-type': DELETE_MARKER_CONTENT_TYPE })
      }
      const a = objectAnswer(req, resp)
      if (isFound(a.status)) a.headers['x-object-version-id'] = versionId
      return a
    }
    default: return next(req)
  }
}

/** Whether a chunked body has at least one byte (the rest is not wanted). */
async function hasBody(req: SwiftRequest): Promise<boolean> {
  for await (const chunk of req.body! as AsyncIterable<Buffer>) {
    if (chunk.length) { req.body!.destroy(); return true }
  }
  return false
}
