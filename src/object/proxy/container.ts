// /v1/<account>/<container>: PUT (create, creating the account on first use), GET (object
// listing), HEAD, POST (metadata, ACLs), DELETE (409 while objects remain). As Swift's
// proxy/controllers/container.py; ACLs are owner-only, readers are checked against
// X-Container-Read after the container is read.
import { cleanAcl } from './acl.ts'
import { autocreateAccount } from './account.ts'
import { CONSTRAINTS, checkListingParams, checkMetadata, checkNameLength } from './constraints.ts'
import { type ProxyContext, backendHeaders, checkAccess, policyName } from './context.ts'
import { SwiftError } from './errors.ts'
import { answerBody, assignTargets, transferHeaders } from './headers.ts'
import type { NodeAnswer } from './quorum.ts'
import { type ClientAnswer, OWNER_HEADERS, type SwiftRequest, responseHeaders } from './request.ts'
import { entityPath } from './storage-client.ts'

/** Handles a request on a container. */
export async function containerRequest(ctx: ProxyContext, req: SwiftRequest): Promise<ClientAnswer> {
  switch (req.method) {
    case 'GET': case 'HEAD': return getOrHead(ctx, req)
    case 'PUT': return put(ctx, req)
    case 'POST': return post(ctx, req)
    case 'DELETE': return del(ctx, req)
    default: throw SwiftError.status(405, { allow: 'GET, HEAD, PUT, POST, DELETE' })
  }
}

const isFound = (s: number) => s >= 200 && s < 300

function location(ctx: ProxyContext, req: SwiftRequest) {
  const ring = ctx.client.ring('container')
  const part = ring.getPartition(ctx.client.hashConfig, req.account, req.container!)
  return { ring, part, nodes: ring.getPartNodes(part), path: entityPath(req.account, req.container!) }
}

function toClient(req: SwiftRequest, a: NodeAnswer, extra: Record<string, string> = {}): ClientAnswer {
  const { body, contentType } = answerBody(a)
  const headers = { ...responseHeaders(a.headers, req.owner), ...extra }
  if (contentType) headers['content-type'] = contentType
  return { status: a.status, headers, body }
}

async function getOrHead(ctx: ProxyContext, req: SwiftRequest): Promise<ClientAnswer> {
  const isGet = req.method === 'GET'
  if (isGet) checkListingParams(req.query, CONSTRAINTS.container_listing_limit)
  // No account, no container; who may learn that is decided without an ACL.
  if (!req.account.startsWith(CONSTRAINTS.auto_create_account_prefix)) {
    const ai = await ctx.infos.account(req.account)
    if (!isFound(ai.status)) {
      checkAccess(ctx, req)
      throw SwiftError.status(ai.status === 404 ? 404 : 503)
    }
  }
  const { part, path } = location(ctx, req)
  const headers = backendHeaders(req, req.headers.accept ? { accept: req.headers.accept } : {})
  const answer = await ctx.client.readNewest('container', part, isGet ? 'GET' : 'HEAD', path, headers, isGet ? req.query : undefined)
  if (isFound(answer.status) || answer.status === 404) ctx.infos.setContainer(req.account, req.container!, answer)
  checkAccess(ctx, req, answer.headers['x-container-read'])
  const extra: Record<string, string> = {}
  if (isFound(answer.status)) extra['x-storage-policy'] = policyName(ctx, Number(answer.headers['x-backend-storage-policy-index'] ?? 0))
  return toClient(req, answer, extra)
}

/** Validates ACL headers (clean_acl) and metadata; a non-owner's ACL headers are ignored. */
function prepareWrite(ctx: ProxyContext, req: SwiftRequest): void {
  checkAccess(ctx, req)
  for (const h of ['x-container-read', 'x-container-write']) {
    if (req.headers[h] !== undefined) req.headers[h] = cleanAcl(h, req.headers[h])
  }
  checkMetadata(req.headers, 'container')
  if (!req.owner) for (const h of OWNER_HEADERS) delete req.headers[h]
}

/** The storage policy a PUT asks for (X-Storage-Policy by name); 400 for an unknown one. */
function requestedPolicy(ctx: ProxyContext, req: SwiftRequest): number | undefined {
  const name = req.headers['x-storage-policy']
  if (!name) return undefined
  const p = ctx.policies.find((x) => x.name.toLowerCase() === name.trim().toLowerCase())
  if (!p) throw SwiftError.text(400, `Invalid X-Storage-Policy '${name}'`)
  return p.index
}

/** The account's placement, creating the account first when it does not exist yet. */
async function accountNodes(ctx: ProxyContext, req: SwiftRequest, create: boolean) {
  let ai = await ctx.infos.account(req.account)
  if (ai.status === 404 && create) {
    if (!(await autocreateAccount(ctx, req))) throw SwiftError.status(503)
    ai = await ctx.infos.account(req.account)
  }
  if (ai.status === 404) throw SwiftError.status(404)
  if (!isFound(ai.status)) throw SwiftError.status(503)
  const ring = ctx.client.ring('account')
  const part = ring.getPartition(ctx.client.hashConfig, req.account)
  return { part, nodes: ring.getPartNodes(part) }
}

async function put(ctx: ProxyContext, req: SwiftRequest): Promise<ClientAnswer> {
  prepareWrite(ctx, req)
  const policy = requestedPolicy(ctx, req)
  checkNameLength('Container', req.container!)
  const account = await accountNodes(ctx, req, true)
  const { part, nodes, path } = location(ctx, req)
  const base = backendHeaders(req, {
    'x-timestamp': ctx.now().internal, ...transferHeaders(req.headers, 'container'),
    ...(policy === undefined ? { 'x-backend-storage-policy-default': String(defaultPolicy(ctx)) }
      : { 'x-backend-storage-policy-index': String(policy) }),
  })
  const sets = nodes.map(() => ({ ...base }))
  assignTargets(sets, 'account', account.part, account.nodes)
  const answer = await ctx.client.writeAll('container', part, 'PUT', path, sets)
  ctx.infos.forgetContainer(req.account, req.container!)
  ctx.infos.forgetAccount(req.account)
  return toClient(req, answer)
}

function defaultPolicy(ctx: ProxyContext): number {
  return (ctx.policies.find((p) => p.isDefault) ?? ctx.policies[0])?.index ?? 0
}

async function post(ctx: ProxyContext, req: SwiftRequest): Promise<ClientAnswer> {
  prepareWrite(ctx, req)
  await accountNodes(ctx, req, false)
  const { part, nodes, path } = location(ctx, req)
  const base = backendHeaders(req, { 'x-timestamp': ctx.now().internal, ...transferHeaders(req.headers, 'container') })
  const answer = await ctx.client.writeAll('container', part, 'POST', path, nodes.map(() => ({ ...base })))
  ctx.infos.forgetContainer(req.account, req.container!)
  return toClient(req, answer)
}

async function del(ctx: ProxyContext, req: SwiftRequest): Promise<ClientAnswer> {
  checkAccess(ctx, req)
  const account = await accountNodes(ctx, req, false)
  const { part, nodes, path } = location(ctx, req)
  const base = backendHeaders(req, { 'x-timestamp': ctx.now().internal })
  const sets = nodes.map(() => ({ ...base }))
  assignTargets(sets, 'account', account.part, account.nodes)
  const answer = await ctx.client.writeAll('container', part, 'DELETE', path, sets)
  ctx.infos.forgetContainer(req.account, req.container!)
  ctx.infos.forgetAccount(req.account)
  // 202 means no replica had the container (Swift).
  if (answer.status === 202) throw SwiftError.status(404)
  return toClient(req, answer)
}
