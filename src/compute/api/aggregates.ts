import type { FastifyRequest } from 'fastify'
import type { Api } from '../../core/http/app.ts'
import type { Rules } from '../../core/policy.ts'
import { badRequest } from '../../core/errors.ts'
import { AZ_KEY, type Aggregate, AggregateService } from '../aggregates.ts'
import type { ComputeCtx } from '../context.ts'
import { atLeast } from '../microversion.ts'
import { deny, validateBody } from './common.ts'
import { novaTime } from './instance-actions.ts'

// os-aggregates (nova/api/openstack/compute/aggregates.py, schemas/aggregates.py): admin-only
// host aggregates. Create/delete/actions answer 200 as Nova does; `uuid` is shown from 2.41.

const ADMIN = 'rule:context_is_admin'

/** Nova's default rules (nova/policies/aggregates.py): all admin. */
export const aggregateRules: Rules = {
  'os_compute_api:os-aggregates:index': ADMIN,
  'os_compute_api:os-aggregates:create': ADMIN,
  'os_compute_api:os-aggregates:show': ADMIN,
  'os_compute_api:os-aggregates:update': ADMIN,
  'os_compute_api:os-aggregates:delete': ADMIN,
  'os_compute_api:os-aggregates:add_host': ADMIN,
  'os_compute_api:os-aggregates:remove_host': ADMIN,
  'os_compute_api:os-aggregates:set_metadata': ADMIN,
}

// Nova's parameter_types: names 1–255 without leading/trailing whitespace; hosts are hostnames.
const NAME = { type: 'string', minLength: 1, maxLength: 255, pattern: '^(?!\\s)[\\s\\S]*(?<!\\s)$' }
const AZ = { type: ['string', 'null'], minLength: 1, maxLength: 255, pattern: '^(?!\\s)[\\s\\S]*(?<!\\s)$' }
const HOST = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[a-zA-Z0-9-._]*$' }
const wrap = (key: string, inner: object) => ({
  type: 'object', required: [key], additionalProperties: false, properties: { [key]: inner },
})
const CREATE = wrap('aggregate', {
  type: 'object', required: ['name'], additionalProperties: false, properties: { name: NAME, availability_zone: AZ },
})
const UPDATE = wrap('aggregate', {
  type: 'object', additionalProperties: false, anyOf: [{ required: ['name'] }, { required: ['availability_zone'] }],
  properties: { name: NAME, availability_zone: AZ },
})
const HOST_ACTION = (key: string) => wrap(key, { type: 'object', required: ['host'], additionalProperties: false, properties: { host: HOST } })
const ADD_HOST = HOST_ACTION('add_host')
const REMOVE_HOST = HOST_ACTION('remove_host')
const SET_METADATA = wrap('set_metadata', {
  type: 'object', required: ['metadata'], additionalProperties: false,
  properties: {
    metadata: {
      type: 'object', additionalProperties: false,
      patternProperties: { '^[a-zA-Z0-9-_:. /]{1,255}$': { type: ['string', 'null'], maxLength: 255 } },
    },
  },
})

/** Nova's aggregate view; `create` drops hosts and metadata as Nova's create does. */
function view(req: FastifyRequest, a: Aggregate, create = false): Record<string, unknown> {
  return {
    availability_zone: a.metadata[AZ_KEY] ?? null,
    created_at: novaTime(a.row.created_at), deleted: false, deleted_at: null,
    ...(create ? {} : { hosts: a.hosts, metadata: a.metadata }),
    id: a.row.id, name: a.row.name, updated_at: novaTime(a.row.updated_at),
    ...(atLeast(req, '2.41') ? { uuid: a.row.uuid } : {}),
  }
}

/** The aggregate id of the path: an integer (Nova's validate_integer) or 400. */
function idOf(req: FastifyRequest): number {
  const id = (req.params as { id: string }).id
  if (!/^\s*-?\d+\s*$/.test(id) || !Number.isSafeInteger(Number(id))) throw badRequest('Invalid input received: id must be an integer.')
  return Number(id)
}

/** Wires /os-aggregates and registers its default policies. */
export function aggregateRoutes(api: Api, c: ComputeCtx, P: string): void {
  c.policy.register(aggregateRules)
  const svc = new AggregateService(c)
  const rule = (action: string) => ({ config: { policy: `os_compute_api:os-aggregates:${action}` } })

  api.get(`${P}/os-aggregates`, rule('index'), async (req) => ({ aggregates: (await svc.list()).map((a) => view(req, a)) }))

  api.post(`${P}/os-aggregates`, rule('create'), async (req) => {
    validateBody(req, CREATE)
    const b = (req.body as { aggregate: { name: string; availability_zone?: string | null } }).aggregate
    return { aggregate: view(req, await svc.create(b.name.trim(), b.availability_zone?.trim() || null), true) }
  })

  api.get(`${P}/os-aggregates/:id`, rule('show'), async (req) => ({ aggregate: view(req, await svc.get(idOf(req))) }))

  api.put(`${P}/os-aggregates/:id`, rule('update'), async (req) => {
    const id = idOf(req)
    validateBody(req, UPDATE)
    const b = (req.body as { aggregate: { name?: string; availability_zone?: string | null } }).aggregate
    return { aggregate: view(req, await svc.update(id, b)) }
  })

  api.delete(`${P}/os-aggregates/:id`, rule('delete'), async (req, reply) => {
    await svc.delete(idOf(req))
    return reply.code(200).send()
  })

  // One URL, three actions, each with its own rule: checked here once the action is known.
  api.post(`${P}/os-aggregates/:id/action`, { config: { selfPolicy: true } }, async (req) => {
    const body = (req.body ?? {}) as Record<string, any>
    const action = ['add_host', 'remove_host', 'set_metadata'].find((k) => k in body)
    if (!action) throw badRequest('There is no such action: ' + (Object.keys(body)[0] ?? ''))
    const rn = `os_compute_api:os-aggregates:${action}`
    if (!c.policy.check(rn, req.ctx)) throw deny(rn)
    const id = idOf(req)
    switch (action) {
      case 'add_host': validateBody(req, ADD_HOST); return { aggregate: view(req, await svc.addHost(id, body.add_host.host)) }
      case 'remove_host': validateBody(req, REMOVE_HOST); return { aggregate: view(req, await svc.removeHost(id, body.remove_host.host)) }
      default: validateBody(req, SET_METADATA); return { aggregate: view(req, await svc.setMetadata(id, body.set_metadata.metadata)) }
    }
  })
}
