import { Type } from 'typebox'
import { CloudError, badRequest } from '../../core/errors.ts'
import { isUniqueViolation } from '../../core/db/index.ts'
import type { Api } from '../../core/http/app.ts'
import type { IdentityCtx } from '../context.ts'
import type { EndpointGroupRow } from '../schema.ts'
import {
  endpointGroupView, endpointView, endpointsOfGroup, endpointsOfProject, loadEndpoint, loadGroup, loadProject,
  projectViews, requireValidFilters,
} from '../endpoint-groups-store.ts'
import { listLinks, Name, newId, selfLink } from './common.ts'

// OS-EP-FILTER (keystone/api/os_ep_filter.py): endpoint groups, their association with
// projects, and direct project-endpoint associations. Cumulo stores and reports them; token
// catalogs are NOT filtered by them yet (every project sees the whole catalog).

const P = '/v3/OS-EP-FILTER'

// keystone/catalog/schema.py: filters is an object on endpoint attributes; which keys are
// allowed is checked afterwards (`_require_valid_filter`), as Keystone does.
const Filters = Type.Object({
  interface: Type.Optional(Type.Union([Type.Literal('admin'), Type.Literal('internal'), Type.Literal('public')])),
  service_id: Type.Optional(Type.String()),
  region_id: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  enabled: Type.Optional(Type.Boolean()),
}, { additionalProperties: true })
const Description = Type.Union([Type.String(), Type.Null()])
const GroupCreate = Type.Object({
  endpoint_group: Type.Object({ name: Name, description: Type.Optional(Description), filters: Filters },
    { additionalProperties: false }),
}, { additionalProperties: false })
const GroupUpdate = Type.Object({
  endpoint_group: Type.Object({
    name: Type.Optional(Name), description: Type.Optional(Description), filters: Type.Optional(Filters),
  }, { additionalProperties: false, minProperties: 1 }),
}, { additionalProperties: false })
const GroupQuery = Type.Object({ name: Type.Optional(Type.String()) })

const Id = Type.String({ minLength: 1, maxLength: 255 })
const GroupParams = Type.Object({ endpoint_group_id: Id })
const GroupProjectParams = Type.Object({ endpoint_group_id: Id, project_id: Id })
const ProjectParams = Type.Object({ project_id: Id })
const ProjectEndpointParams = Type.Object({ project_id: Id, endpoint_id: Id })
const EndpointParams = Type.Object({ endpoint_id: Id })

type GroupBody = { name?: string; description?: string | null; filters?: Record<string, unknown> }

/** Keystone's 409 for an association that exists already (`handle_conflicts`). */
const duplicateAssociation = (type: string) =>
  new CloudError('Conflict', `Conflict occurred attempting to store ${type} - Duplicate Entry.`)

export function endpointGroupRoutes(api: Api, c: IdentityCtx): void {
  const db = c.db

  // --- endpoint groups ---

  api.get(`${P}/endpoint_groups`, {
    schema: { querystring: GroupQuery }, config: { policy: 'identity:list_endpoint_groups' },
  }, async (req) => {
    const { name } = req.query as { name?: string }
    let q = db.selectFrom('endpoint_groups').selectAll()
    if (name !== undefined) q = q.where('name', '=', name)
    const rows = await q.orderBy('id').execute()
    return { endpoint_groups: rows.map((g) => endpointGroupView(req, g)), links: listLinks(req) }
  })

  api.post(`${P}/endpoint_groups`, {
    schema: { body: GroupCreate }, config: { policy: 'identity:create_endpoint_group' },
  }, async (req, reply) => {
    const b = (req.body as { endpoint_group: Required<Pick<GroupBody, 'name' | 'filters'>> & GroupBody }).endpoint_group
    if (Object.keys(b.filters).length === 0) throw badRequest('filters field is required and cannot be empty')
    requireValidFilters(b.filters)
    const row: EndpointGroupRow = {
      id: newId(), name: b.name, description: b.description ?? '', filters: JSON.stringify(b.filters), extra: '{}',
    }
    await db.insertInto('endpoint_groups').values(row).execute()
    reply.code(201)
    return { endpoint_group: endpointGroupView(req, row) }
  })

  api.get(`${P}/endpoint_groups/:endpoint_group_id`, {
    schema: { params: GroupParams }, config: { policy: 'identity:get_endpoint_group' },
  }, async (req) => {
    const { endpoint_group_id } = req.params as { endpoint_group_id: string }
    return { endpoint_group: endpointGroupView(req, await loadGroup(db, endpoint_group_id)) }
  })

  api.patch(`${P}/endpoint_groups/:endpoint_group_id`, {
    schema: { params: GroupParams, body: GroupUpdate }, config: { policy: 'identity:update_endpoint_group' },
  }, async (req) => {
    const { endpoint_group_id } = req.params as { endpoint_group_id: string }
    const b = (req.body as { endpoint_group: GroupBody }).endpoint_group
    // Unlike create, an update may set empty filters (the group then matches every endpoint).
    if (b.filters) requireValidFilters(b.filters)
    const old = await loadGroup(db, endpoint_group_id)
    const row: EndpointGroupRow = {
      ...old,
      name: b.name ?? old.name,
      description: 'description' in b ? (b.description ?? '') : old.description,
      filters: b.filters ? JSON.stringify(b.filters) : old.filters,
    }
    await db.updateTable('endpoint_groups').set({ name: row.name, description: row.description, filters: row.filters })
      .where('id', '=', old.id).execute()
    c.changed()
    return { endpoint_group: endpointGroupView(req, row) }
  })

  api.delete(`${P}/endpoint_groups/:endpoint_group_id`, {
    schema: { params: GroupParams }, config: { policy: 'identity:delete_endpoint_group' },
  }, async (req, reply) => {
    const { endpoint_group_id } = req.params as { endpoint_group_id: string }
    await loadGroup(db, endpoint_group_id)
    await db.transaction().execute(async (tx) => {
      await tx.deleteFrom('project_endpoint_groups').where('endpoint_group_id', '=', endpoint_group_id).execute()
      await tx.deleteFrom('endpoint_groups').where('id', '=', endpoint_group_id).execute()
    })
    c.changed()
    reply.code(204).send()
  })

  api.get(`${P}/endpoint_groups/:endpoint_group_id/endpoints`, {
    schema: { params: GroupParams }, config: { policy: 'identity:list_endpoints_associated_with_endpoint_group' },
  }, async (req) => {
    const { endpoint_group_id } = req.params as { endpoint_group_id: string }
    const rows = await endpointsOfGroup(db, await loadGroup(db, endpoint_group_id))
    return { endpoints: rows.map((e) => endpointView(req, e)), links: listLinks(req) }
  })

  // --- endpoint group <-> project ---

  api.get(`${P}/endpoint_groups/:endpoint_group_id/projects`, {
    schema: { params: GroupParams }, config: { policy: 'identity:list_projects_associated_with_endpoint_group' },
  }, async (req) => {
    const { endpoint_group_id } = req.params as { endpoint_group_id: string }
    await loadGroup(db, endpoint_group_id)
    // Joined with projects: an association left by a deleted project is not shown.
    const rows = await db.selectFrom('projects').selectAll()
      .where('id', 'in', db.selectFrom('project_endpoint_groups').select('project_id')
        .where('endpoint_group_id', '=', endpoint_group_id))
      .orderBy('id').execute()
    return { projects: await projectViews(db, req, rows), links: listLinks(req) }
  })

  api.get(`${P}/endpoint_groups/:endpoint_group_id/projects/:project_id`, {
    schema: { params: GroupProjectParams }, config: { policy: 'identity:get_endpoint_group_in_project' },
  }, async (req) => {
    const { endpoint_group_id, project_id } = req.params as { endpoint_group_id: string; project_id: string }
    await loadProject(db, project_id)
    await loadGroup(db, endpoint_group_id)
    const ref = await db.selectFrom('project_endpoint_groups').selectAll()
      .where('endpoint_group_id', '=', endpoint_group_id).where('project_id', '=', project_id).executeTakeFirst()
    if (!ref) throw new CloudError('NotFound', `Could not find endpoint group ${endpoint_group_id} in project ${project_id}.`)
    return { project_endpoint_group: { endpoint_group_id, project_id,
      links: selfLink(req, `/OS-EP-FILTER/endpoint_groups/${endpoint_group_id}/projects/${project_id}`) } }
  })

  api.put(`${P}/endpoint_groups/:endpoint_group_id/projects/:project_id`, {
    schema: { params: GroupProjectParams }, config: { policy: 'identity:add_endpoint_group_to_project' },
  }, async (req, reply) => {
    const { endpoint_group_id, project_id } = req.params as { endpoint_group_id: string; project_id: string }
    await loadProject(db, project_id)
    await loadGroup(db, endpoint_group_id)
    try {
      await db.insertInto('project_endpoint_groups').values({ endpoint_group_id, project_id }).execute()
    } catch (err) {
      if (isUniqueViolation(err)) throw duplicateAssociation('project_endpoint_group')
      throw err
    }
    c.changed()
    reply.code(204).send()
  })

  api.delete(`${P}/endpoint_groups/:endpoint_group_id/projects/:project_id`, {
    schema: { params: GroupProjectParams }, config: { policy: 'identity:remove_endpoint_group_from_project' },
  }, async (req, reply) => {
    const { endpoint_group_id, project_id } = req.params as { endpoint_group_id: string; project_id: string }
    await loadProject(db, project_id)
    await loadGroup(db, endpoint_group_id)
    const r = await db.deleteFrom('project_endpoint_groups')
      .where('endpoint_group_id', '=', endpoint_group_id).where('project_id', '=', project_id).executeTakeFirst()
    if (Number(r.numDeletedRows) === 0) {
      throw new CloudError('NotFound', `Could not find endpoint group ${endpoint_group_id} in project ${project_id}.`)
    }
    c.changed()
    reply.code(204).send()
  })

  api.get(`${P}/projects/:project_id/endpoint_groups`, {
    schema: { params: ProjectParams }, config: { policy: 'identity:list_endpoint_groups_for_project' },
  }, async (req) => {
    const { project_id } = req.params as { project_id: string }
    await loadProject(db, project_id)
    const rows = await db.selectFrom('endpoint_groups').selectAll()
      .where('id', 'in', db.selectFrom('project_endpoint_groups').select('endpoint_group_id').where('project_id', '=', project_id))
      .orderBy('id').execute()
    return { endpoint_groups: rows.map((g) => endpointGroupView(req, g)), links: listLinks(req) }
  })

  // --- project <-> endpoint ---

  api.get(`${P}/projects/:project_id/endpoints`, {
    schema: { params: ProjectParams }, config: { policy: 'identity:list_endpoints_for_project' },
  }, async (req) => {
    const { project_id } = req.params as { project_id: string }
    await loadProject(db, project_id)
    const rows = await endpointsOfProject(db, project_id)
    return { endpoints: rows.map((e) => endpointView(req, e)), links: listLinks(req) }
  })

  // GET and HEAD both check an association (204), as in Keystone.
  api.get(`${P}/projects/:project_id/endpoints/:endpoint_id`, {
    schema: { params: ProjectEndpointParams }, config: { policy: 'identity:check_endpoint_in_project' },
  }, async (req, reply) => {
    const { project_id, endpoint_id } = req.params as { project_id: string; endpoint_id: string }
    await loadEndpoint(db, endpoint_id)
    await loadProject(db, project_id)
    const ref = await db.selectFrom('project_endpoints').selectAll()
      .where('endpoint_id', '=', endpoint_id).where('project_id', '=', project_id).executeTakeFirst()
    if (!ref) throw new CloudError('NotFound', `Endpoint ${endpoint_id} not found in project ${project_id}.`)
    reply.code(204).send()
  })

  api.put(`${P}/projects/:project_id/endpoints/:endpoint_id`, {
    schema: { params: ProjectEndpointParams }, config: { policy: 'identity:add_endpoint_to_project' },
  }, async (req, reply) => {
    const { project_id, endpoint_id } = req.params as { project_id: string; endpoint_id: string }
    await loadEndpoint(db, endpoint_id)
    await loadProject(db, project_id)
    try {
      await db.insertInto('project_endpoints').values({ endpoint_id, project_id }).execute()
    } catch (err) {
      if (isUniqueViolation(err)) throw duplicateAssociation('project_endpoint')
      throw err
    }
    c.changed()
    reply.code(204).send()
  })

  // Like Keystone, no existence check of the project or endpoint: an association left by a
  // deleted one can still be removed.
  api.delete(`${P}/projects/:project_id/endpoints/:endpoint_id`, {
    schema: { params: ProjectEndpointParams }, config: { policy: 'identity:remove_endpoint_from_project' },
  }, async (req, reply) => {
    const { project_id, endpoint_id } = req.params as { project_id: string; endpoint_id: string }
    const r = await db.deleteFrom('project_endpoints')
      .where('endpoint_id', '=', endpoint_id).where('project_id', '=', project_id).executeTakeFirst()
    if (Number(r.numDeletedRows) === 0) throw new CloudError('NotFound', `Endpoint ${endpoint_id} not found in project ${project_id}.`)
    c.changed()
    reply.code(204).send()
  })

  api.get(`${P}/endpoints/:endpoint_id/projects`, {
    schema: { params: EndpointParams }, config: { policy: 'identity:list_projects_for_endpoint' },
  }, async (req) => {
    const { endpoint_id } = req.params as { endpoint_id: string }
    await loadEndpoint(db, endpoint_id)
    const rows = await db.selectFrom('projects').selectAll()
      .where('id', 'in', db.selectFrom('project_endpoints').select('project_id').where('endpoint_id', '=', endpoint_id))
      .orderBy('id').execute()
    return { projects: await projectViews(db, req, rows), links: listLinks(req) }
  })
}
