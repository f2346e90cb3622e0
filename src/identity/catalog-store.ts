import type { FastifyRequest } from 'fastify'
import type { Kysely } from 'kysely'
import { CloudError, badRequest } from '../core/errors.ts'
import type { EndpointRow, IdentitySchema, RegionRow, ServiceRow } from './schema.ts'
import { parseJson, selfLink, toBool } from './api/common.ts'

// Helpers for the catalog API (regions, services, endpoints): views, Keystone's validation
// rules and the region tree. Routes live in api/catalog.ts.

type Db = Kysely<IdentitySchema>

/** Keystone's `_normalize_dict` on create: ':' and '-' in attribute names become '_'. */
export function normalizeKeys(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o)) out[k.replace(/[:-]/g, '_')] = v
  return out
}

/** The attributes of a body that are not columns: Keystone keeps them as `extra`. */
export function extraOf(body: Record<string, unknown>, columns: readonly string[]): Record<string, unknown> {
  const extra: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(body)) if (!columns.includes(k) && k !== 'links') extra[k] = v
  return extra
}

/** `_require_matching_id`: a body may repeat the id of the resource it updates, not change it. */
export function requireMatchingId(body: Record<string, unknown>, id: string): void {
  if (body.id !== undefined && body.id !== null && body.id !== id) throw badRequest('Cannot change ID')
}

/** Keystone's ValidationError text ("Expecting to find X in Y. The server could not comply…"). */
export function validationError(attribute: string, target: string): CloudError {
  return badRequest(`Expecting to find ${attribute} in ${target}. The server could not comply with the request ` +
    'since it is either malformed or otherwise incorrect. The client is assumed to be in error.')
}

export function regionView(req: FastifyRequest, r: RegionRow) {
  return {
    ...parseJson(r.extra),
    id: r.id, description: r.description, parent_region_id: r.parent_region_id,
    links: selfLink(req, `/regions/${encodeURIComponent(r.id)}`),
  }
}

export function serviceView(req: FastifyRequest, s: ServiceRow) {
  return {
    ...parseJson(s.extra),
    id: s.id, type: s.type, name: s.name, description: s.description, enabled: toBool(s.enabled),
    links: selfLink(req, `/services/${s.id}`),
  }
}

export function endpointView(req: FastifyRequest, e: EndpointRow) {
  return {
    ...parseJson(e.extra),
    id: e.id, interface: e.interface, region_id: e.region_id, region: e.region_id, service_id: e.service_id,
    url: e.url, enabled: toBool(e.enabled),
    links: selfLink(req, `/endpoints/${e.id}`),
  }
}

/** The substitutions Keystone allows in endpoint URLs ($(name)s or %(name)s). */
const URL_SUBSTITUTIONS = ['tenant_id', 'project_id', 'user_id', 'compute_host', 'public_endpoint']

/**
 * Keystone's `check_endpoint_url`: the URL is formatted with Python's `%` operator against the
 * allowed names, so every `%` must be `%%` or a `%(name)s` conversion of an allowed name.
 */
export function checkEndpointUrl(url: string): void {
  const bad = () => badRequest(`Cannot create an endpoint with an invalid URL: ${url}.`)
  const s = url.replace(/\$\(/g, '%(')
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '%') continue
    if (s[i + 1] === '%') { i++; continue }
    const m = /^%\(([^)]*)\)[#0\- +]*\d*(?:\.\d*)?[hlL]?([a-zA-Z%])/.exec(s.slice(i))
    if (!m || !URL_SUBSTITUTIONS.includes(m[1]!) || !'sra'.includes(m[2]!)) throw bad()
    i += m[0].length - 1
  }
}

export async function getRegion(db: Db, id: string): Promise<RegionRow | undefined> {
  return db.selectFrom('regions').selectAll().where('id', '=', id).executeTakeFirst()
}

/** Throws Keystone's 400 when making `parentId` the parent of `id` would close a loop. */
export async function assertNoRegionCycle(db: Db, id: string, parentId: string | null): Promise<void> {
  const seen = new Set<string>()
  let cur = parentId
  while (cur) {
    if (cur === id) {
      throw badRequest(`The specified parent region ${parentId} would create a circular region hierarchy.`)
    }
    if (seen.has(cur)) return // an old loop not involving this region; nothing to add
    seen.add(cur)
    const r = await db.selectFrom('regions').select('parent_region_id').where('id', '=', cur).executeTakeFirst()
    cur = r?.parent_region_id ?? null
  }
}

/** A region and all its descendants (each once, even if the data holds a loop). */
export async function regionSubtree(db: Db, id: string): Promise<string[]> {
  const all = [id]
  const seen = new Set(all)
  let frontier = [id]
  while (frontier.length > 0) {
    const rows = await db.selectFrom('regions').select('id').where('parent_region_id', 'in', frontier).execute()
    frontier = rows.map((r) => r.id).filter((x) => !seen.has(x))
    for (const x of frontier) { seen.add(x); all.push(x) }
  }
  return all
}
