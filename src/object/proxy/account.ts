// /v1/<account>: GET (container listing), HEAD, POST (metadata); PUT and DELETE are refused
// (Swift's allow_account_management = false). Accounts spring into existence on first write
// (account_autocreate): until then GET/HEAD answer as for an empty account. Owners set the
// account ACL (X-Account-Access-Control, account-acl.ts), kept as sysmeta and shown to owners.
import { DbError } from '../storage/db-broker.ts'
import { ACCOUNT_ACL_HEADER, ACCOUNT_ACL_SYSMETA, accountAclError, accountAclErrorBody, accountAclHeader } from './account-acl.ts'
import { type ListingContentType, listingContentType, renderAccountListing } from '../storage/listing.ts'
import { CONSTRAINTS, checkListingParams, checkMetadata, checkNameLength } from './constraints.ts'
import { type ProxyContext, backendHeaders, checkAccess } from './context.ts'
import { SwiftError } from './errors.ts'
import { answerBody, transferHeaders } from './headers.ts'
import type { NodeAnswer } from './quorum.ts'
import { type ClientAnswer, type SwiftRequest, responseHeaders } from './request.ts'
import { entityPath } from './storage-client.ts'

/** Handles a request on an account. */
export async function accountRequest(ctx: ProxyContext, req: SwiftRequest): Promise<ClientAnswer> {
  checkNameLength('Account', req.account)
  // As tempauth: a malformed ACL is refused before anything else is decided.
  const acl = req.headers[ACCOUNT_ACL_HEADER]
  if (acl !== undefined) {
    const error = accountAclError(acl)
    if (error) throw SwiftError.text(400, accountAclErrorBody(error, acl))
  }
  checkAccess(ctx, req)
  switch (req.method) {
    case 'GET': case 'HEAD': return getOrHead(ctx, req)
    case 'POST': return post(ctx, req)
    default: throw SwiftError.status(405, { allow: 'GET, HEAD, POST' })
  }
}

function contentTypeOf(req: SwiftRequest): ListingContentType {
  try { return listingContentType(req.query, req.headers.accept) } catch (err) {
    if (err instanceof DbError) throw SwiftError.text(err.status, err.message)
    throw err
  }
}

async function getOrHead(ctx: ProxyContext, req: SwiftRequest): Promise<ClientAnswer> {
  const isGet = req.method === 'GET'
  if (isGet) checkListingParams(req.query, CONSTRAINTS.account_listing_limit)
  const type = contentTypeOf(req)
  const part = ctx.client.ring('account').getPartition(ctx.client.hashConfig, req.account)
  const headers = backendHeaders(req, req.headers.accept ? { accept: req.headers.accept } : {})
  const answer = await ctx.client.readNewest('account', part, isGet ? 'GET' : 'HEAD', entityPath(req.account), headers,
    isGet ? req.query : undefined)
  if (answer.status === 404) {
    if ((answer.headers['x-account-status'] ?? '').toLowerCase() === 'deleted') throw SwiftError.status(410)
    return emptyAccount(ctx, req, type)
  }
  if (answer.status >= 200 && answer.status < 300) ctx.infos.setAccount(req.account, { ...answer, body: Buffer.alloc(0) })
  const { body, contentType } = answerBody(answer)
  const out = responseHeaders(answer.headers, req.owner)
  if (req.owner) {
    const shown = accountAclHeader(answer.headers[ACCOUNT_ACL_SYSMETA])
    if (shown !== undefined) out[ACCOUNT_ACL_HEADER] = shown
  }
  if (contentType) out['content-type'] = contentType
  return { status: answer.status, headers: out, body }
}

/** Swift's account_listing_response for an account not created yet: empty, with zero counts. */
function emptyAccount(ctx: ProxyContext, req: SwiftRequest, type: ListingContentType): ClientAnswer {
  const ts = ctx.now().normal
  const headers: Record<string, string> = {
    'x-account-container-count': '0', 'x-account-object-count': '0', 'x-account-bytes-used': '0',
    'x-timestamp': ts, 'x-put-timestamp': ts, 'content-type': `${type}; charset=utf-8`,
  }
  if (req.method === 'HEAD') return { status: 204, headers }
  const body = renderAccountListing([], req.account, type)
  return body.length ? { status: 200, headers, body } : { status: 204, headers }
}

/** Creates an account on all its replicas (Swift's autocreate_account); false when no quorum. */
export async function autocreateAccount(ctx: ProxyContext, req: SwiftRequest): Promise<boolean> {
  const ring = ctx.client.ring('account')
  const part = ring.getPartition(ctx.client.hashConfig, req.account)
  const base = backendHeaders(req, { 'x-timestamp': ctx.now().internal })
  const sets = ring.getPartNodes(part).map(() => ({ ...base }))
  const answer = await ctx.client.writeAll('account', part, 'PUT', entityPath(req.account), sets)
  ctx.infos.forgetAccount(req.account)
  if (answer.status >= 200 && answer.status < 300) return true
  ctx.log.warn({ account: req.account, status: answer.status }, 'could not autocreate account')
  return false
}

async function post(ctx: ProxyContext, req: SwiftRequest): Promise<ClientAnswer> {
  checkMetadata(req.headers, 'account')
  const ring = ctx.client.ring('account')
  const part = ring.getPartition(ctx.client.hashConfig, req.account)
  const extra: Record<string, string> = {}
  // Only owners (account admins included) change the ACL; the value is stored as sent.
  if (req.owner && req.headers[ACCOUNT_ACL_HEADER] !== undefined) extra[ACCOUNT_ACL_SYSMETA] = req.headers[ACCOUNT_ACL_HEADER]
  const send = async (): Promise<NodeAnswer> => {
    const base = backendHeaders(req, { 'x-timestamp': ctx.now().internal, ...transferHeaders(req.headers, 'account'), ...extra })
    return ctx.client.writeAll('account', part, 'POST', entityPath(req.account), ring.getPartNodes(part).map(() => ({ ...base })))
  }
  let answer = await send()
  if (answer.status === 404) {
    if (!(await autocreateAccount(ctx, req))) throw SwiftError.status(503)
    answer = await send()
  }
  ctx.infos.forgetAccount(req.account)
  const { body, contentType } = answerBody(answer)
  return { status: answer.status, headers: contentType ? { 'content-type': contentType } : {}, body }
}
