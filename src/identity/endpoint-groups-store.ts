import type { FastifyRequest } from 'fastify'
import type { Kysely } from 'kysely'
import { CloudError, badRequest } from '../core/errors.ts'
import type { EndpointGroupRow, EndpointRow, IdentitySchema, ProjectRow } from './schema.ts'
import { notFoundError, parseJson, selfLink, toBool } from './api/common.ts'
import { projectView } from './api/views.ts'

// Reads and views for OS-EP-FILTER (keystone/catalog/core.py, keystone/api/os_ep_filter.py).
// Routes live in api/endpoint-groups.ts.

type Db = Kysely<IdentitySchema>

/** The endpoint attributes an endpoint group may filter on (keystone `_require_valid_filter`). */
export const FILTER_KEYS = ['service_id', 'region_id', 'interface'] as const
export type EndpointFilters = Partial<Record<(typeof FILTER_KEYS)[number], string | null>>

/** Keystone's 400 for filters on other attributes. */
export function requireValidFilters(filters: Record<string, unknown>): void {
  for (const key of Object.keys(filters)) {
    if (!(FILTER_KEYS as readonly string[]).includes(key)) {
      throw badRequest(`Expecting to find ${FILTER_KEYS.join(' or ')} in endpoint_group. The server could not comply ` +
        'with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.')
    }
  }
}

export function endpointGroupView(req: FastifyRequest, g: EndpointGroupRow) {
  return {
    id: g.id, name: g.name, description: g.description, filters: parseJson<EndpointFilters>(g.filters),
    links: selfLink(req, `/OS-EP-FILTER/endpoint_groups/${g.id}`),
  }
}

/** An endpoint as the catalog API shows it (Keystone's `_filter_endpoint` adds `region`). */
export function endpointView(req: FastifyRequest, e: EndpointRow) {
  return {
    ...parseJson(e.extra),
    id: e.id, interface: e.interface, region_id: e.region_id, region: e.region_id, service_id: e.service_id,
    url: e.url, enabled: toBool(e.enabled), links: selfLink(req, `/endpoints/${e.id}`),
  }
}

/** Projects with their tags, as the projects API shows them. */
export async function projectViews(db: Db, req: FastifyRequest, rows: ProjectRow[]) {
  const tags = new Map<string, string[]>()
  if (rows.length > 0) {
    const t = await db.selectFrom('project_tags').selectAll().where('project_id', 'in', rows.map((p) => p.id)).execute()
    for (const r of t) tags.set(r.project_id, [...(tags.get(r.project_id) ?? []), r.tag])
  }
  return rows.map((p) => projectView(req, p, (tags.get(p.id) ?? []).sort()))
}

export async function loadGroup(db: Db, id: string): Promise<EndpointGroupRow> {
  const g = await db.selectFrom('endpoint_groups').selectAll().where('id', '=', id).executeTakeFirst()
  if (!g) throw new CloudError('NotFound', `Could not find Endpoint Group: ${id}.`)
  return g
}

export async function loadProject(db: Db, id: string): Promise<ProjectRow> {
  const p = await db.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst()
  if (!p) throw notFoundError('project', id)
  return p
}

export async function loadEndpoint(db: Db, id: string): Promise<EndpointRow> {
  const e = await db.selectFrom('endpoints').selectAll().where('id', '=', id).executeTakeFirst()
  if (!e) throw notFoundError('endpoint', id)
  return e
}

/** The endpoints whose attributes equal every filter of the group (Keystone compares with `!=`). */
export async function endpointsOfGroup(db: Db, g: EndpointGroupRow): Promise<EndpointRow[]> {
  const filters = parseJson<EndpointFilters>(g.filters)
  let q = db.selectFrom('endpoints').selectAll()
  for (const key of FILTER_KEYS) {
    if (!(key in filters)) continue
    const v = filters[key]
    q = v === null || v === undefined ? q.where(key, 'is', null) : q.where(key, '=', v)
  }
  return q.orderBy('id').execute()
}

/**
 * The endpoints a project is associated with: directly (project_endpoints) and through its
 * endpoint groups, each once (keystone `list_endpoints_for_project`).
 */
export async function endpointsOfProject(db: Db, projectId: string): Promise<EndpointRow[]> {
  const direct = await db.selectFrom('endpoints').selectAll()
    .where('id', 'in', db.selectFrom('project_endpoints').select('endpoint_id').where('project_id', '=', projectId))
    .orderBy('id').execute()
  const byId = new Map(direct.map((e) => [e.id, e]))
  const groups = await db.selectFrom('endpoint_groups').selectAll()
    .where('id', 'in', db.selectFrom('project_endpoint_groups').select('endpoint_group_id').where('project_id', '=', projectId))
    .orderBy('id').execute()
  for (const g of groups) for (const e of await endpointsOfGroup(db, g)) if (!byId.has(e.id)) byId.set(e.id, e)
  return [...byId.values()]
}
