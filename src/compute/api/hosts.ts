import type { FastifyRequest } from 'fastify'
import type { Api } from '../../core/http/app.ts'
import { CloudError, badRequest } from '../../core/errors.ts'
import { serviceUp } from '../agent-hosts.ts'
import type { ComputeCtx } from '../context.ts'
import { atLeast } from '../microversion.ts'
import type { ServiceRow } from '../schema.ts'
import { novaTime } from './instance-actions.ts'
import { hypervisorRoutes } from './hypervisors.ts'
import { validateBody } from './common.ts'

// os-availability-zone and os-services (nova/api/openstack/compute/availability_zone.py,
// services.py); os-hypervisors is in hypervisors.ts. The services are the nova-compute
// services the agents register; a service is up when seen in the last 60 s and not forced down.

const COMPUTE = 'nova-compute'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Wires os-availability-zone, os-services and os-hypervisors. */
export function hostRoutes(api: Api, c: ComputeCtx, P: string): void {
  const services = () => c.db.selectFrom('services').selectAll().orderBy('id').execute()
  const up = (s: ServiceRow) => serviceUp(s, c.clock.now())

  api.get(`${P}/os-availability-zone`, { config: { policy: 'os_compute_api:os-availability-zone:list' } }, async () => {
    return { availabilityZoneInfo: zones(await services()).map((z) => ({ zoneName: z.name, zoneState: { available: z.available }, hosts: null })) }
  })

  api.get(`${P}/os-availability-zone/detail`, { config: { policy: 'os_compute_api:os-availability-zone:detail' } }, async () => {
    const all = await services()
    return {
      availabilityZoneInfo: zones(all).map((z) => {
        const hosts: Record<string, Record<string, unknown>> = {}
        for (const s of all.filter((x) => x.zone === z.name)) {
          (hosts[s.host] ??= {})[s.binary] = { available: up(s), active: !Number(s.disabled), updated_at: novaTime(s.last_seen_at ?? s.updated_at) }
        }
        return { zoneName: z.name, zoneState: { available: z.available }, hosts }
      }),
    }
  })

  /** Nova's service view for the request's microversion. */
  function serviceView(req: FastifyRequest, s: ServiceRow): Record<string, unknown> {
    return {
      id: atLeast(req, '2.53') ? s.uuid : Number(s.id), binary: s.binary, disabled_reason: s.disabled_reason, host: s.host,
      state: up(s) ? 'up' : 'down', status: Number(s.disabled) ? 'disabled' : 'enabled',
      updated_at: novaTime(s.last_seen_at ?? s.updated_at), zone: s.zone,
      ...(atLeast(req, '2.11') ? { forced_down: !!Number(s.forced_down) } : {}),
    }
  }

  api.get(`${P}/os-services`, { config: { policy: 'os_compute_api:os-services:list' } }, async (req) => {
    const q = req.query as Record<string, string>
    let rows = await services()
    if (q.host !== undefined) rows = rows.filter((s) => s.host === q.host)
    if (q.binary !== undefined) rows = rows.filter((s) => s.binary === q.binary)
    return { services: rows.map((s) => serviceView(req, s)) }
  })

  const now = () => new Date(c.clock.now()).toISOString()

  // Before 2.53: PUT /os-services/{enable,disable,disable-log-reason,force-down} with {host, binary}.
  async function byHostBinary(host: string, binary: string): Promise<ServiceRow> {
    const s = await c.db.selectFrom('services').selectAll().where('host', '=', host).where('binary', '=', binary).executeTakeFirst()
    if (!s) throw new CloudError('NotFound', `Service ${binary} on host ${host} could not be found.`)
    if (s.binary !== COMPUTE) throw badRequest(`Updating a ${s.binary} service is not supported. Only nova-compute services can be updated.`)
    return s
  }
  const HOST_BINARY = {
    type: 'object', required: ['host', 'binary'],
    properties: { host: { type: 'string', minLength: 1, maxLength: 255 }, binary: { type: 'string', minLength: 1, maxLength: 255 },
      disabled_reason: { type: 'string', minLength: 1, maxLength: 255 }, forced_down: { type: ['boolean', 'string'] } },
  }

  api.put(`${P}/os-services/:id`, { config: { policy: 'os_compute_api:os-services:update' } }, async (req) => {
    const id = (req.params as { id: string }).id
    const b = (req.body ?? {}) as Record<string, any>
    if (!atLeast(req, '2.53')) {
      validateBody(req, HOST_BINARY)
      const s = await byHostBinary(b.host, b.binary)
      switch (id) {
        case 'enable':
          await c.db.updateTable('services').set({ disabled: 0, disabled_reason: null, updated_at: now() }).where('id', '=', s.id).execute()
          return { service: { host: s.host, binary: s.binary, status: 'enabled' } }
        case 'disable':
          await c.db.updateTable('services').set({ disabled: 1, updated_at: now() }).where('id', '=', s.id).execute()
          return { service: { host: s.host, binary: s.binary, status: 'disabled' } }
        case 'disable-log-reason':
          if (typeof b.disabled_reason !== 'string') throw badRequest('Missing disabled reason field')
          await c.db.updateTable('services').set({ disabled: 1, disabled_reason: b.disabled_reason, updated_at: now() }).where('id', '=', s.id).execute()
          return { service: { host: s.host, binary: s.binary, status: 'disabled', disabled_reason: b.disabled_reason } }
        case 'force-down': {
          if (!atLeast(req, '2.11')) break
          if (typeof b.forced_down !== 'boolean') throw badRequest('Invalid input for field/attribute forced_down.')
          await c.db.updateTable('services').set({ forced_down: b.forced_down ? 1 : 0, updated_at: now() }).where('id', '=', s.id).execute()
          return { service: { host: s.host, binary: s.binary, forced_down: b.forced_down } }
        }
      }
      throw new CloudError('NotFound', `Unknown action`)
    }
    validateBody(req, {
      type: 'object', additionalProperties: false,
      properties: { status: { enum: ['enabled', 'disabled'] }, disabled_reason: { type: 'string', minLength: 1, maxLength: 255 }, forced_down: { type: 'boolean' } },
    })
    if (!UUID.test(id)) throw badRequest(`Invalid uuid ${id}`)
    const s = await c.db.selectFrom('services').selectAll().where('uuid', '=', id).executeTakeFirst()
    if (!s) throw new CloudError('NotFound', `Service ${id} could not be found.`)
    if (b.status === undefined && b.forced_down === undefined) {
      throw badRequest("No updates were requested. Fields 'status' or 'forced_down' should be specified.")
    }
    if (b.disabled_reason !== undefined && b.status !== 'disabled') {
      throw badRequest("Specifying 'disabled_reason' with status 'enabled' is invalid.")
    }
    if (s.binary !== COMPUTE) throw badRequest(`Updating a ${s.binary} service is not supported. Only nova-compute services can be updated.`)
    const set: Partial<ServiceRow> = { updated_at: now() }
    if (b.status === 'enabled') Object.assign(set, { disabled: 0, disabled_reason: null })
    if (b.status === 'disabled') Object.assign(set, { disabled: 1, disabled_reason: b.disabled_reason ?? null })
    if (b.forced_down !== undefined) set.forced_down = b.forced_down ? 1 : 0
    await c.db.updateTable('services').set(set).where('id', '=', s.id).execute()
    const fresh = await c.db.selectFrom('services').selectAll().where('id', '=', s.id).executeTakeFirstOrThrow()
    return { service: { ...serviceView(req, fresh), updated_at: novaTime(fresh.updated_at) } }
  })

  api.delete(`${P}/os-services/:id`, { config: { policy: 'os_compute_api:os-services:delete' } }, async (req, reply) => {
    const id = (req.params as { id: string }).id
    const v253 = atLeast(req, '2.53')
    if (v253 ? !UUID.test(id) : !/^\d+$/.test(id)) throw badRequest(v253 ? `Invalid uuid ${id}` : `Service id in request ${id} is invalid`)
    await c.db.transaction().execute(async (tx) => {
      const s = await (v253 ? tx.selectFrom('services').selectAll().where('uuid', '=', id) : tx.selectFrom('services').selectAll().where('id', '=', Number(id))).executeTakeFirst()
      if (!s) throw new CloudError('NotFound', `Service ${id} could not be found.`)
      if (s.binary === COMPUTE) {
        const busy = await tx.selectFrom('instances').select('uuid').where('host', '=', s.host).where('deleted', '=', 0).limit(1).executeTakeFirst()
        if (busy) throw new CloudError('Conflict', 'Unable to delete compute service that is hosting instances. Migrate or delete the instances first.')
        const node = await tx.selectFrom('compute_nodes').select('uuid').where('host', '=', s.host).executeTakeFirst()
        if (node) {
          const held = await tx.selectFrom('allocations').select('consumer_uuid').where('rp_uuid', '=', node.uuid).limit(1).executeTakeFirst()
          if (held) throw new CloudError('Conflict', `Unable to delete compute service that has in-use allocations on resource provider ${node.uuid}.`)
          await tx.deleteFrom('resource_providers').where('uuid', '=', node.uuid).execute()
          await tx.deleteFrom('compute_nodes').where('uuid', '=', node.uuid).execute()
        }
      }
      await tx.deleteFrom('services').where('id', '=', s.id).execute()
    })
    return reply.code(204).send()
  })

  hypervisorRoutes(api, c, P)
}

/** Zones of the compute services: available when any service in it is enabled (Nova's get_availability_zones). */
function zones(all: ServiceRow[]): Array<{ name: string; available: boolean }> {
  const avail = new Set(all.filter((s) => !Number(s.disabled)).map((s) => s.zone))
  const names = [...new Set(all.map((s) => s.zone))].sort()
  return [...names.filter((n) => avail.has(n)).map((name) => ({ name, available: true })),
    ...names.filter((n) => !avail.has(n)).map((name) => ({ name, available: false }))]
}
