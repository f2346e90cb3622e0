// Swift's object versioning (versioned_writes/object_versioning.py), as a middleware: containers
// turn it on with X-Versions-Enabled; every version of their objects is kept in a hidden
// versions container (a reserved, NUL-prefixed name clients cannot address or see listed) and
// the API gains version ids, `?versions` listings and `?version-id=` operations. The parts:
// object-versioning-object.ts (object requests), -container.ts (container requests), -core.ts
// (the data operations, shared with the S3 port), -listing.ts, -io.ts, -names.ts.
// Account listings count each container's versions in its bytes, as Swift's.
import { DbError } from '../storage/db-broker.ts'
import { type ContainerEntry, type ListingContentType, listingContentType, renderAccountListing } from '../storage/listing.ts'
import { cmpNames } from '../storage/db-listing.ts'
import { CONSTRAINTS } from './constraints.ts'
import type { ProxyContext } from './context.ts'
import { SwiftError } from './errors.ts'
import {
  VERSIONS_ENABLED, deleteVersionedContainer, enableVersioning, readVersionedContainer,
} from './object-versioning-container.ts'
import { type ListingRow, isFound, listAs } from './object-versioning-io.ts'
import { reservedName, splitVersionsContainerName, versionsContainerName, isTrueValue } from './object-versioning-names.ts'
import { versionedObjectRequest } from './object-versioning-object.ts'
import type { Middleware, SwiftHandler } from './pipeline.ts'
import type { ClientAnswer, SwiftRequest } from './request.ts'

/** The object versioning middleware (Swift's with allow_object_versioning = true). */
export function objectVersioning(): Middleware {
  return {
    name: 'object_versioning',
    info: () => ({}),
    wrap(next, ctx) {
      return async (req) => {
        if (req.container === undefined) return req.method === 'GET' ? listAccount(ctx, next, req) : next(req)
        if (req.obj !== undefined) return versionedObjectRequest(ctx, next, req)
        if ((req.method === 'PUT' || req.method === 'POST') && req.headers[VERSIONS_ENABLED] !== undefined) {
          return enableVersioning(ctx, next, req)
        }
        if (req.method === 'DELETE') return deleteVersionedContainer(ctx, next, req)
        if (req.method === 'GET' || req.method === 'HEAD') return readVersionedContainer(ctx, next, req)
        return next(req)
      }
    },
  }
}

function contentTypeOf(req: SwiftRequest): ListingContentType {
  try { return listingContentType(req.query, req.headers.accept) } catch (err) {
    if (err instanceof DbError) throw SwiftError.text(err.status, err.message)
    throw err
  }
}

/** A versions-container name for a listing parameter; the value itself when it cannot be one. */
function hiddenName(v: string): string {
  try { return versionsContainerName(v) } catch { return v }
}

/**
 * Account GET (Swift's AccountContext.list_containers): each container's bytes include its
 * versions', and versions containers left without their container are listed under its name.
 */
async function listAccount(ctx: ProxyContext, next: SwiftHandler, req: SwiftRequest): Promise<ClientAnswer> {
  const type = contentTypeOf(req)
  const query = new URLSearchParams(req.query)
  query.set('format', 'json')
  const params: Record<string, string> = {}
  for (const [k, v] of req.query) if (k !== 'format') params[k] = v
  params.prefix = req.query.has('prefix') ? hiddenName(req.query.get('prefix')!) : reservedName('versions')
  for (const k of ['marker', 'end_marker']) if (req.query.has(k)) params[k] = hiddenName(req.query.get(k)!)
  // Both listings at once; the versions containers' is only used if the client's succeeds.
  const hiddenListing = listAs(ctx, req, req.account, undefined, params, { reserved: true, source: 'OV' })
  hiddenListing.catch(() => undefined)
  const answer = await next({ ...req, query })
  if (!isFound(answer.status)) return answer
  const raw = Buffer.isBuffer(answer.body) ? answer.body.toString('utf8') : ''
  const listing = raw ? JSON.parse(raw) as ListingRow[] : []
  const hidden = await hiddenListing
  const versions = new Map<string, ListingRow>()
  for (const item of hidden.rows) if (item.name !== undefined) versions.set(splitVersionsContainerName(item.name), item)
  if (versions.size) {
    for (const item of listing) {
      const v = item.name === undefined ? undefined : versions.get(item.name)
      if (!v) continue
      item.bytes = Number(item.bytes ?? 0) + Number(v.bytes ?? 0)
      versions.delete(item.name!)
    }
    for (const [name, item] of versions) listing.push({ ...item, name, count: 0 }) // orphans: none is current
  }
  const reverse = isTrueValue(req.query.get('reverse') ?? undefined)
  const limit = Number(req.query.get('limit') || CONSTRAINTS.account_listing_limit)
  const key = (r: ListingRow) => r.subdir ?? r.name ?? ''
  const rows = listing.sort((a, b) => (reverse ? cmpNames(key(b), key(a)) : cmpNames(key(a), key(b)))).slice(0, limit)
  const body = renderAccountListing(rows as unknown as ContainerEntry[], req.account, type)
  const headers: Record<string, string> = { ...answer.headers, 'content-type': `${type}; charset=utf-8` }
  delete headers['content-length']
  return { status: body.length ? 200 : 204, headers, body: body.length ? body : undefined }
}
