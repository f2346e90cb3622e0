import { Type } from 'typebox'
import { CloudError } from '../../core/errors.ts'
import { isUniqueViolation } from '../../core/db/index.ts'
import type { Api } from '../../core/http/app.ts'
import type { IdentityCtx } from '../context.ts'
import type { EndpointRow, RegionRow, ServiceRow } from '../schema.ts'
import {
  assertNoRegionCycle, checkEndpointUrl, endpointView, extraOf, getRegion, normalizeKeys, regionSubtree, regionView,
  requireMatchingId, serviceView, validationError,
} from '../catalog-store.ts'
import { IdParams, listLinks, newId, notFoundError, parseJson } from './common.ts'

// Keystone v3 catalog administration: /v3/regions, /v3/services, /v3/endpoints
// (keystone/api/{regions,services,endpoints}.py, keystone/catalog/schema.py).
// Every write calls c.changed(): token catalogs are cached per generation.

const RegionId = Type.Union([Type.String({ minLength: 1, maxLength: 255 }), Type.Null()])
const RegionProps = {
  description: Type.Optional(Type.Union([Type.String({ maxLength: 255 }), Type.Null()])),
  parent_region_id: Type.Optional(RegionId),
}
// Keystone accepts (and keeps as extra) unknown attributes on regions, services and endpoints.
const RegionCreate = Type.Object({
  region: Type.Object({ ...RegionProps, id: Type.Optional(Type.Union([Type.String({ maxLength: 255 }), Type.Null()])) }),
})
const RegionUpdate = Type.Object({
  region: Type.Object({ ...RegionProps, id: Type.Optional(RegionId) }, { minProperties: 1 }),
}, { additionalProperties: false })
const RegionQuery = Type.Object({ parent_region_id: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })) },
  { additionalProperties: false })

const ServiceProps = {
  type: Type.String({ minLength: 1, maxLength: 255 }),
  name: Type.String({ minLength: 1, maxLength: 255 }),
  enabled: Type.Boolean(),
  description: Type.Union([Type.String(), Type.Null()]),
}
const ServiceCreate = Type.Object({
  service: Type.Object({ ...ServiceProps, name: Type.Optional(ServiceProps.name),
    enabled: Type.Optional(ServiceProps.enabled), description: Type.Optional(ServiceProps.description) }),
})
const ServiceUpdate = Type.Object({
  service: Type.Object({ type: Type.Optional(ServiceProps.type), name: Type.Optional(ServiceProps.name),
    enabled: Type.Optional(ServiceProps.enabled), description: Type.Optional(ServiceProps.description) },
  { minProperties: 1 }),
})
const ServiceQuery = Type.Object({ type: Type.Optional(Type.String()), name: Type.Optional(Type.String()) })

const Interface = Type.Union([Type.Literal('admin'), Type.Literal('internal'), Type.Literal('public')])
const EndpointProps = {
  enabled: Type.Optional(Type.Boolean()),
  region_id: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  region: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  name: Type.Optional(Type.String()),
  description: Type.Optional(Type.Union([Type.String(), Type.Null()])),
}
const Url = Type.String({ maxLength: 225, pattern: '^[a-zA-Z0-9+.-]+:.+' })
const EndpointCreate = Type.Object({
  endpoint: Type.Object({ ...EndpointProps, id: Type.Optional(Type.String()), interface: Interface,
    service_id: Type.String(), url: Url }),
}, { additionalProperties: false })
const EndpointUpdate = Type.Object({
  endpoint: Type.Object({ ...EndpointProps, interface: Type.Optional(Interface), service_id: Type.Optional(Type.String()),
    url: Type.Optional(Url) }, { minProperties: 1 }),
}, { additionalProperties: false })
const EndpointQuery = Type.Object({ interface: Type.Optional(Interface), service_id: Type.Optional(Type.String()),
  region_id: Type.Optional(Type.String()) })

type Body = Record<string, unknown>
const REGION_COLUMNS = ['id', 'description', 'parent_region_id'] as const
const SERVICE_COLUMNS = ['id', 'type', 'name', 'description', 'enabled'] as const
const ENDPOINT_COLUMNS = ['id', 'interface', 'service_id', 'url', 'region_id', 'region', 'enabled'] as const

export function catalogRoutes(api: Api, c: IdentityCtx): void {
  const db = c.db
  const regionConflict = (id: string) => new CloudError('Conflict', `Conflict occurred attempting to store region - Duplicate ID, ${id}.`)

  // ------------------------------------------------------------------ regions

  async function createRegion(r: Body, id: string): Promise<RegionRow> {
    if (await getRegion(db, id)) throw regionConflict(id)
    const parent = (r.parent_region_id as string | null | undefined) ?? null
    if (parent !== null && !(await getRegion(db, parent))) throw notFoundError('region', parent)
    const row: RegionRow = { id, description: (r.description as string | null | undefined) ?? '',
      parent_region_id: parent, extra: JSON.stringify(extraOf(r, REGION_COLUMNS)) }
    try {
      await db.insertInto('regions').values(row).execute()
    } catch (err) {
      if (isUniqueViolation(err)) throw regionConflict(id)
      throw err
    }
    c.changed()
    return row
  }

  async function loadRegion(id: string): Promise<RegionRow> {
    const r = await getRegion(db, id)
    if (!r) throw notFoundError('region', id)
    return r
  }

  api.get('/v3/regions', { schema: { querystring: RegionQuery }, config: { policy: 'identity:list_regions' } }, async (req) => {
    const q = req.query as { parent_region_id?: string }
    let sel = db.selectFrom('regions').selectAll().orderBy('id')
    if (q.parent_region_id !== undefined) sel = sel.where('parent_region_id', '=', q.parent_region_id)
    return { regions: (await sel.execute()).map((r) => regionView(req, r)), links: listLinks(req) }
  })

  api.post('/v3/regions', { schema: { body: RegionCreate }, config: { policy: 'identity:create_region' } }, async (req, reply) => {
    const r = normalizeKeys((req.body as { region: Body }).region)
    // Keystone generates an id unless one is given (historically POST accepts an id too).
    const row = await createRegion(r, typeof r.id === 'string' && r.id !== '' ? r.id : newId())
    reply.code(201)
    return { region: regionView(req, row) }
  })

  api.put('/v3/regions/:id', { schema: { params: IdParams, body: RegionCreate }, config: { policy: 'identity:create_region' } }, async (req, reply) => {
    const { id } = req.params as { id: string }
    const r = normalizeKeys((req.body as { region: Body }).region)
    if ('id' in r && r.id !== id) throw new CloudError('BadRequest', `Conflicting region IDs specified: "${id}" != "${String(r.id)}"`)
    const row = await createRegion(r, id)
    reply.code(201)
    return { region: regionView(req, row) }
  })

  api.get('/v3/regions/:id', { schema: { params: IdParams }, config: { policy: 'identity:get_region' } }, async (req) => {
    return { region: regionView(req, await loadRegion((req.params as { id: string }).id)) }
  })

  api.patch('/v3/regions/:id', { schema: { params: IdParams, body: RegionUpdate }, config: { policy: 'identity:update_region' } }, async (req) => {
    const { id } = req.params as { id: string }
    const r = (req.body as { region: Body }).region
    requireMatchingId(r, id)
    const cur = await loadRegion(id)
    const next: RegionRow = { ...cur }
    if ('description' in r) next.description = (r.description as string | null) ?? ''
    if ('parent_region_id' in r) {
      const parent = r.parent_region_id as string | null
      if (parent !== null) {
        if (!(await getRegion(db, parent))) throw notFoundError('region', parent)
        await assertNoRegionCycle(db, id, parent)
      }
      next.parent_region_id = parent
    }
    next.extra = JSON.stringify({ ...parseJson(cur.extra), ...extraOf(r, REGION_COLUMNS) })
    await db.updateTable('regions').set({ description: next.description, parent_region_id: next.parent_region_id, extra: next.extra })
      .where('id', '=', id).execute()
    c.changed()
    return { region: regionView(req, next) }
  })

  api.delete('/v3/regions/:id', { schema: { params: IdParams }, config: { policy: 'identity:delete_region' } }, async (req, reply) => {
    const { id } = req.params as { id: string }
    await loadRegion(id)
    // Keystone deletes child regions with their parent, unless one of them has endpoints.
    const ids = await regionSubtree(db, id)
    await db.transaction().execute(async (tx) => {
      const used = await tx.selectFrom('endpoints').select('id').where('region_id', 'in', ids).executeTakeFirst()
      if (used) {
        throw new CloudError('Forbidden', `Unable to delete region ${id} because it or its child regions have associated endpoints.`)
      }
      await tx.deleteFrom('regions').where('id', 'in', ids).execute()
    })
    c.changed()
    reply.code(204).send()
  })

  // ------------------------------------------------------------------ services

  async function loadService(id: string): Promise<ServiceRow> {
    const s = await db.selectFrom('services').selectAll().where('id', '=', id).executeTakeFirst()
    if (!s) throw notFoundError('service', id)
    return s
  }

  api.get('/v3/services', { schema: { querystring: ServiceQuery }, config: { policy: 'identity:list_services' } }, async (req) => {
    const q = req.query as { type?: string; name?: string }
    let sel = db.selectFrom('services').selectAll().orderBy('type').orderBy('id')
    if (q.type !== undefined) sel = sel.where('type', '=', q.type)
    if (q.name !== undefined) sel = sel.where('name', '=', q.name)
    return { services: (await sel.execute()).map((s) => serviceView(req, s)), links: listLinks(req) }
  })

  api.post('/v3/services', { schema: { body: ServiceCreate }, config: { policy: 'identity:create_service' } }, async (req, reply) => {
    const s = normalizeKeys((req.body as { service: Body }).service)
    const row: ServiceRow = {
      id: newId(), type: s.type as string, name: (s.name as string | undefined) ?? '',
      description: (s.description as string | null | undefined) ?? '', enabled: s.enabled === false ? 0 : 1,
      extra: JSON.stringify(extraOf(s, SERVICE_COLUMNS)),
    }
    await db.insertInto('services').values(row).execute()
    c.changed()
    reply.code(201)
    return { service: serviceView(req, row) }
  })

  api.get('/v3/services/:id', { schema: { params: IdParams }, config: { policy: 'identity:get_service' } }, async (req) => {
    return { service: serviceView(req, await loadService((req.params as { id: string }).id)) }
  })

  api.patch('/v3/services/:id', { schema: { params: IdParams, body: ServiceUpdate }, config: { policy: 'identity:update_service' } }, async (req) => {
    const { id } = req.params as { id: string }
    const s = (req.body as { service: Body }).service
    requireMatchingId(s, id)
    const cur = await loadService(id)
    const next: ServiceRow = {
      ...cur,
      type: (s.type as string | undefined) ?? cur.type,
      name: (s.name as string | undefined) ?? cur.name,
      description: 'description' in s ? (s.description as string | null) ?? '' : cur.description,
      enabled: s.enabled === undefined ? cur.enabled : s.enabled ? 1 : 0,
      extra: JSON.stringify({ ...parseJson(cur.extra), ...extraOf(s, SERVICE_COLUMNS) }),
    }
    await db.updateTable('services').set({ type: next.type, name: next.name, description: next.description,
      enabled: next.enabled, extra: next.extra }).where('id', '=', id).execute()
    c.changed()
    return { service: serviceView(req, next) }
  })

  api.delete('/v3/services/:id', { schema: { params: IdParams }, config: { policy: 'identity:delete_service' } }, async (req, reply) => {
    const { id } = req.params as { id: string }
    await loadService(id)
    // A service's endpoints go with it (and their project associations with them).
    await db.transaction().execute(async (tx) => {
      const eps = (await tx.selectFrom('endpoints').select('id').where('service_id', '=', id).execute()).map((e) => e.id)
      if (eps.length > 0) {
        await tx.deleteFrom('project_endpoints').where('endpoint_id', 'in', eps).execute()
        await tx.deleteFrom('endpoints').where('id', 'in', eps).execute()
      }
      await tx.deleteFrom('services').where('id', '=', id).execute()
    })
    c.changed()
    reply.code(204).send()
  })

  // ------------------------------------------------------------------ endpoints

  async function loadEndpoint(id: string): Promise<EndpointRow> {
    const e = await db.selectFrom('endpoints').selectAll().where('id', '=', id).executeTakeFirst()
    if (!e) throw notFoundError('endpoint', id)
    return e
  }

  /**
   * Keystone's `_validate_endpoint_region`: `region_id` must name an existing region (400),
   * while the legacy `region` attribute creates its region when missing. Returns the region
   * to use (undefined: unchanged) and whether it must be created.
   */
  async function resolveRegion(e: Body): Promise<{ regionId?: string | null; create?: string }> {
    const rid = e.region_id as string | null | undefined
    const legacy = e.region as string | null | undefined
    if ((rid === undefined || rid === null) && typeof legacy === 'string') {
      return { regionId: legacy, create: (await getRegion(db, legacy)) ? undefined : legacy }
    }
    if (typeof rid === 'string' && !(await getRegion(db, rid))) throw validationError('endpoint region_id', 'region table')
    return { regionId: rid }
  }

  async function assertService(id: string): Promise<void> {
    const s = await db.selectFrom('services').select('id').where('id', '=', id).executeTakeFirst()
    if (!s) throw validationError('endpoint service_id', 'service table')
  }

  async function createLegacyRegion(id: string): Promise<void> {
    try {
      await db.insertInto('regions').values({ id, description: '', parent_region_id: null, extra: '{}' }).execute()
    } catch (err) {
      if (!isUniqueViolation(err)) throw err // created meanwhile by another request: fine
    }
  }

  api.get('/v3/endpoints', { schema: { querystring: EndpointQuery }, config: { policy: 'identity:list_endpoints' } }, async (req) => {
    const q = req.query as { interface?: string; service_id?: string; region_id?: string }
    let sel = db.selectFrom('endpoints').selectAll().orderBy('service_id').orderBy('id')
    if (q.interface !== undefined) sel = sel.where('interface', '=', q.interface)
    if (q.service_id !== undefined) sel = sel.where('service_id', '=', q.service_id)
    if (q.region_id !== undefined) sel = sel.where('region_id', '=', q.region_id)
    return { endpoints: (await sel.execute()).map((e) => endpointView(req, e)), links: listLinks(req) }
  })

  api.post('/v3/endpoints', { schema: { body: EndpointCreate }, config: { policy: 'identity:create_endpoint' } }, async (req, reply) => {
    const e = normalizeKeys((req.body as { endpoint: Body }).endpoint)
    checkEndpointUrl(e.url as string)
    await assertService(e.service_id as string)
    const region = await resolveRegion(e)
    if (region.create) await createLegacyRegion(region.create)
    const row: EndpointRow = {
      id: newId(), service_id: e.service_id as string, interface: e.interface as string, url: e.url as string,
      region_id: region.regionId ?? null, enabled: e.enabled === false ? 0 : 1,
      extra: JSON.stringify(extraOf(e, ENDPOINT_COLUMNS)),
    }
    await db.insertInto('endpoints').values(row).execute()
    c.changed()
    reply.code(201)
    return { endpoint: endpointView(req, row) }
  })

  api.get('/v3/endpoints/:id', { schema: { params: IdParams }, config: { policy: 'identity:get_endpoint' } }, async (req) => {
    return { endpoint: endpointView(req, await loadEndpoint((req.params as { id: string }).id)) }
  })

  api.patch('/v3/endpoints/:id', { schema: { params: IdParams, body: EndpointUpdate }, config: { policy: 'identity:update_endpoint' } }, async (req) => {
    const { id } = req.params as { id: string }
    const e = (req.body as { endpoint: Body }).endpoint
    requireMatchingId(e, id)
    const cur = await loadEndpoint(id)
    if (typeof e.url === 'string') checkEndpointUrl(e.url)
    if (typeof e.service_id === 'string') await assertService(e.service_id)
    const region = await resolveRegion(e)
    if (region.create) await createLegacyRegion(region.create)
    const next: EndpointRow = {
      ...cur,
      interface: (e.interface as string | undefined) ?? cur.interface,
      service_id: (e.service_id as string | undefined) ?? cur.service_id,
      url: (e.url as string | undefined) ?? cur.url,
      region_id: region.regionId === undefined ? cur.region_id : region.regionId,
      enabled: e.enabled === undefined ? cur.enabled : e.enabled ? 1 : 0,
      extra: JSON.stringify({ ...parseJson(cur.extra), ...extraOf(e, ENDPOINT_COLUMNS) }),
    }
    await db.updateTable('endpoints').set({ interface: next.interface, service_id: next.service_id, url: next.url,
      region_id: next.region_id, enabled: next.enabled, extra: next.extra }).where('id', '=', id).execute()
    c.changed()
    return { endpoint: endpointView(req, next) }
  })

  api.delete('/v3/endpoints/:id', { schema: { params: IdParams }, config: { policy: 'identity:delete_endpoint' } }, async (req, reply) => {
    const { id } = req.params as { id: string }
    await loadEndpoint(id)
    await db.transaction().execute(async (tx) => {
      await tx.deleteFrom('project_endpoints').where('endpoint_id', '=', id).execute()
      await tx.deleteFrom('endpoints').where('id', '=', id).execute()
    })
    c.changed()
    reply.code(204).send()
  })
}
