// Container requests for object versioning (Swift's ContainerContext): X-Versions-Enabled on
// PUT/POST (creating the hidden versions container, in the container's policy), DELETE (only
// when no version is left; the versions container goes with it), and GET/HEAD, which report
// X-Versions-Enabled, count the versions' bytes in X-Container-Bytes-Used, show links as their
// versions, and serve `?versions` listings (JSON only, as Swift).
import { DbError } from '../storage/db-broker.ts'
import { type ListingContentType, type ObjectEntry, listingContentType, pyJsonDumps, renderContainerListing } from '../storage/listing.ts'
import { CONSTRAINTS } from './constraints.ts'
import { type ProxyContext, checkAccess, policyName } from './context.ts'
import { SwiftError } from './errors.ts'
import { versioningOf } from './object-versioning-core.ts'
import type { ContainerInfo } from './info-cache.ts'
import {
  type ListingRow, containerAs, headContainerAs, isFound, listAs, loadAccountAcl, postContainerSysmeta,
} from './object-versioning-io.ts'
import { type ListingPlace, type VersionsParams, hiddenQuery, mergeVersions, rewriteLinkRows } from './object-versioning-listing.ts'
import {
  SYSMETA_VERSIONS_CONT, SYSMETA_VERSIONS_ENABLED, SYSMETA_VERSIONS_LOC, isTrueValue, pyBool, versionsContainerName,
} from './object-versioning-names.ts'
import type { SwiftHandler } from './pipeline.ts'
import type { ClientAnswer, SwiftRequest } from './request.ts'
import { quote } from './storage-client.ts'

const SOURCE = 'OV'
/** The client header that turns versioning on or off. */
export const VERSIONS_ENABLED = 'x-versions-enabled'

/** Only an owner may change or delete a container; checked before versioning touches anything. */
async function authorizeOwner(ctx: ProxyContext, req: SwiftRequest): Promise<void> {
  await loadAccountAcl(ctx, req)
  checkAccess(ctx, { ...req, owner: false })
}

/** Refuses containers that cannot take object versioning (legacy versioning, container sync). */
export function checkVersionable(ci: ContainerInfo): void {
  if (ci.headers[SYSMETA_VERSIONS_LOC]) {
    throw SwiftError.text(400, 'Cannot enable object versioning on a container that is already using the legacy versioned writes feature.')
  }
  if (ci.headers['x-container-sync-to']) {
    throw SwiftError.text(400, 'Cannot enable object versioning on a container configured as source of container syncing.')
  }
}

/**
 * Creates (or finds) the hidden versions container of `container`, in the container's policy or
 * else `policy`; the sysmeta naming it. 503 when it cannot be made.
 */
export async function ensureVersionsContainer(ctx: ProxyContext, req: SwiftRequest, account: string, container: string,
                                              ci: ContainerInfo, policy?: string): Promise<{ name: string; sysmeta: Record<string, string> }> {
  const hdrs: Record<string, string> = {}
  if (isFound(ci.status)) hdrs['x-storage-policy'] = policyName(ctx, ci.policy)
  else if (policy) hdrs['x-storage-policy'] = policy
  const name = versionsContainerName(container)
  const made = await containerAs(ctx, req, 'PUT', account, name, hdrs, SOURCE)
  if (!isFound(made.status) && made.status !== 409) throw SwiftError.text(503, 'Error enabling object versioning')
  return { name, sysmeta: { [SYSMETA_VERSIONS_CONT]: quote(name) } }
}

/** Deletes a hidden versions container; a missing one is fine. */
export async function dropVersionsContainer(ctx: ProxyContext, req: SwiftRequest, account: string, name: string): Promise<number> {
  try { return (await containerAs(ctx, req, 'DELETE', account, name, {}, SOURCE)).status } catch (err) {
    if (!(err instanceof SwiftError)) throw err
    return err.status
  }
}

/** PUT/POST with X-Versions-Enabled. */
export async function enableVersioning(ctx: ProxyContext, next: SwiftHandler, req: SwiftRequest): Promise<ClientAnswer> {
  const account = req.account
  const container = req.container!
  const ci = await ctx.infos.container(account, container)
  checkVersionable(ci)
  const enabled = isTrueValue(req.headers[VERSIONS_ENABLED])
  delete req.headers[VERSIONS_ENABLED]
  let sysmeta: Record<string, string> = { [SYSMETA_VERSIONS_ENABLED]: pyBool(enabled) }
  let created: string | undefined
  if (enabled) {
    await authorizeOwner(ctx, req)
    // The versions inherit the container's policy (or the one this PUT asks for).
    const made = await ensureVersionsContainer(ctx, req, account, container, ci,
      req.method === 'PUT' ? req.headers['x-storage-policy'] : undefined)
    sysmeta = { ...sysmeta, ...made.sysmeta }
    created = made.name
  }
  const answer = await next(req)
  if (!isFound(answer.status)) {
    // Leave nothing behind for a request that failed; a versions container with versions stays (409).
    if (created) await dropVersionsContainer(ctx, req, account, created)
    return answer
  }
  // The container controller keeps no sysmeta from a request: set it on the replicas after.
  if (!isFound(await postContainerSysmeta(ctx, req, account, container, sysmeta, SOURCE))) throw SwiftError.status(503)
  return answer
}

/** DELETE: refused while versions remain; the versions container is deleted with the container. */
export async function deleteVersionedContainer(ctx: ProxyContext, next: SwiftHandler, req: SwiftRequest): Promise<ClientAnswer> {
  const ci = await ctx.infos.container(req.account, req.container!)
  const { versionsCont } = versioningOf(ci)
  if (!versionsCont) return next(req)
  await authorizeOwner(ctx, req)
  const vresp = await headContainerAs(ctx, req, req.account, versionsCont, SOURCE)
  if (isFound(vresp.status) && Number(vresp.headers['x-container-object-count'] ?? 0) > 0) {
    throw SwiftError.text(409, 'Delete all versions before deleting container.')
  }
  if (!isFound(vresp.status) && vresp.status !== 404) throw SwiftError.text(503, 'Error deleting versioned container')
  // Unlike Swift, the versions container stays while the container itself cannot go (not empty).
  const own = await headContainerAs(ctx, req, req.account, req.container!, SOURCE)
  if (isFound(own.status) && Number(own.headers['x-container-object-count'] ?? 0) > 0) return next(req)
  if (isFound(vresp.status)) {
    const status = await dropVersionsContainer(ctx, req, req.account, versionsCont)
    if (!isFound(status) && status !== 404) throw SwiftError.text(503, 'Error deleting versioned container')
  }
  return next(req)
}

/** Whether application/json is acceptable (Swift's req.accept.best_match(['application/json'])). */
function jsonAcceptable(req: SwiftRequest): boolean {
  const format = req.query.get('format')
  if (format) return format.toLowerCase() === 'json'
  const accept = req.headers.accept
  if (!accept) return true
  return accept.split(',').some((part) => {
    const [range, ...params] = part.split(';').map((s) => s.trim().toLowerCase())
    const q = params.find((p) => p.startsWith('q='))
    if (q !== undefined && !(Number(q.slice(2)) > 0)) return false
    return range === '*/*' || range === 'application/*' || range === 'application/json'
  })
}

function contentTypeOf(req: SwiftRequest): ListingContentType {
  try { return listingContentType(req.query, req.headers.accept) } catch (err) {
    if (err instanceof DbError) throw SwiftError.text(err.status, err.message)
    throw err
  }
}

/** The client's `?versions` listing parameters. */
function versionsParams(q: URLSearchParams): VersionsParams {
  const limit = q.get('limit')
  const p: VersionsParams = { reverse: isTrueValue(q.get('reverse') ?? undefined),
    limit: limit ? Math.min(Number(limit), CONSTRAINTS.container_listing_limit) : CONSTRAINTS.container_listing_limit }
  for (const [k, name] of [['prefix', 'prefix'], ['marker', 'marker'], ['version_marker', 'versionMarker'], ['delimiter', 'delimiter']] as const) {
    const v = q.get(k)
    if (v !== null) p[name] = v
  }
  return p
}

/** GET/HEAD of a container that has (or had) versioning, or a `?versions` listing of any container. */
export async function readVersionedContainer(ctx: ProxyContext, next: SwiftHandler, req: SwiftRequest): Promise<ClientAnswer> {
  const isGet = req.method === 'GET'
  const wantVersions = isGet && req.query.has('versions')
  const before = versioningOf(await ctx.infos.container(req.account, req.container!))
  if (!wantVersions && !before.configured && !before.versionsCont) return next(req) // never versioned: untouched
  let type: ListingContentType = 'application/json'
  let inner = req
  if (isGet) {
    type = contentTypeOf(req)
    if (wantVersions && !jsonAcceptable(req)) throw SwiftError.status(406)
    const query = new URLSearchParams(req.query)
    query.set('format', 'json')
    inner = { ...req, query }
  }
  const answer = await next(inner)
  if (!isFound(answer.status)) return answer
  // The controller has just cached what it read: the sysmeta is current.
  const ci = await ctx.infos.container(req.account, req.container!)
  const state = versioningOf(ci)
  const enabledValue = ci.headers[SYSMETA_VERSIONS_ENABLED]
  if (enabledValue) answer.headers[VERSIONS_ENABLED] = enabledValue
  if (state.versionsCont && answer.headers['x-container-bytes-used'] !== undefined) {
    const v = await headContainerAs(ctx, req, req.account, state.versionsCont, SOURCE)
    if (isFound(v.status)) {
      answer.headers['x-container-bytes-used'] = String(Number(answer.headers['x-container-bytes-used']) + Number(v.headers['x-container-bytes-used'] ?? 0))
    }
  }
  if (!isGet) return answer
  const raw = Buffer.isBuffer(answer.body) ? answer.body.toString('utf8') : ''
  let rows = raw ? JSON.parse(raw) as ListingRow[] : []
  const place: ListingPlace = { account: req.account, container: req.container!,
    versionsCont: state.versionsCont || versionsContainerName(req.container!),
    apiVersion: (req.env?.get('swift.version') as string | undefined) ?? 'v1' }
  rewriteLinkRows(rows, place, wantVersions)
  if (wantVersions) {
    const q = versionsParams(req.query)
    const hq = hiddenQuery(q)
    const hci = await ctx.infos.container(req.account, place.versionsCont)
    let hidden: ListingRow[] | undefined
    if (hci.status !== 404) {
      const h = await listAs(ctx, req, req.account, place.versionsCont, hq, { reserved: true, source: SOURCE })
      if (h.status !== 404) {
        if (!isFound(h.status)) throw SwiftError.status(h.status >= 400 && h.status < 500 ? h.status : 503)
        hidden = h.rows
      }
    }
    rows = mergeVersions(rows, hidden, place, q)
  }
  const body = wantVersions || type === 'application/json' ? Buffer.from(pyJsonDumps(rows), 'latin1')
    : renderContainerListing(rows as unknown as ObjectEntry[], req.container!, type)
  const headers: Record<string, string> = { ...answer.headers, 'content-type': `${wantVersions ? 'application/json' : type}; charset=utf-8` }
  delete headers['content-length']
  return { status: body.length ? 200 : 204, headers, body: body.length ? body : undefined }
}
