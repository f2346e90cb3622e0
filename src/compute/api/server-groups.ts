import type { FastifyRequest } from 'fastify'
import type { Api } from '../../core/http/app.ts'
import { bodyOf } from '../../core/http/app.ts'
import { badRequest } from '../../core/errors.ts'
import type { ComputeCtx } from '../context.ts'
import { atLeast } from '../microversion.ts'
import type { ServerGroup, ServerGroupService } from '../server-groups.ts'
import { MAX_LIMIT, checkQueryKeys, deny, queryOf, strictBool, validateBody } from './common.ts'

// os-server-groups (nova/api/openstack/compute/server_groups.py, schemas/server_groups.py).
// Before 2.64 a group has `policies` (one of them) and an empty `metadata`; from 2.64 a
// `policy` and `rules` ({max_server_per_host} for anti-affinity). 2.13: project_id, user_id.
// 2.15: the soft policies.

const NAME = { type: 'string', minLength: 1, maxLength: 255, pattern: '^(?!\\s)[^\\x00-\\x1F\\x7F]*(?<!\\s)$' }
const schemas = new Map<string, object>()
function createSchema(req: FastifyRequest): object {
  const k = atLeast(req, '2.64') ? '2.64' : atLeast(req, '2.15') ? '2.15' : '2.1'
  let s = schemas.get(k)
  if (s) return s
  const policies = k === '2.1' ? ['anti-affinity', 'affinity'] : ['anti-affinity', 'affinity', 'soft-anti-affinity', 'soft-affinity']
  const inner = k === '2.64'
    ? {
        type: 'object', required: ['name', 'policy'], additionalProperties: false,
        properties: {
          name: NAME, policy: { type: 'string', enum: policies },
          rules: { type: 'object', additionalProperties: false, properties: { max_server_per_host: { type: ['integer', 'string'], pattern: '^[0-9]*$', minimum: 1 } } },
        },
      }
    : {
        type: 'object', required: ['name', 'policies'], additionalProperties: false,
        properties: {
          name: NAME,
          policies: { type: 'array', items: [{ type: 'string', enum: policies }], uniqueItems: true, minItems: 1, maxItems: 1, additionalItems: false },
        },
      }
  s = { type: 'object', required: ['server_group'], additionalProperties: false, properties: { server_group: inner } }
  schemas.set(k, s)
  return s
}

/** Nova's view of a group for the request's microversion. */
function view(req: FastifyRequest, g: ServerGroup): Record<string, unknown> {
  const v: Record<string, unknown> = { id: g.uuid, name: g.name }
  if (atLeast(req, '2.64')) { v.policy = g.policy; v.rules = g.rules } else { v.policies = [g.policy]; v.metadata = {} }
  v.members = g.members
  if (atLeast(req, '2.13')) { v.project_id = g.projectId; v.user_id = g.userId }
  return v
}

/** A non-negative integer query parameter (Nova's common.limited messages). */
function nonNegative(q: Record<string, string>, name: string): number | undefined {
  const v = q[name]
  if (v === undefined) return undefined
  if (!/^-?\d+$/.test(v)) throw badRequest(`${name} param must be an integer`)
  if (Number(v) < 0) throw badRequest(`${name} param must be positive`)
  return Number(v)
}

/** Wires os-server-groups. */
export function serverGroupRoutes(api: Api, c: ComputeCtx, groups: ServerGroupService, P: string): void {
  const check = (req: FastifyRequest, rule: string, projectId: string | undefined) => {
    if (!c.policy.check(rule, req.ctx, { project_id: projectId, user_id: req.ctx.userId })) throw deny(rule)
  }

  api.post(`${P}/os-server-groups`, {
    config: { selfPolicy: true }, preValidation: async (req) => validateBody(req, createSchema(req)),
  }, async (req) => {
    check(req, 'os_compute_api:os-server-groups:create', req.ctx.projectId)
    const b = bodyOf<{ server_group: { name: string; policies?: string[]; policy?: string; rules?: Record<string, unknown> } }>(req).server_group
    const policy = b.policy ?? b.policies![0]!
    const rules: Record<string, unknown> = {}
    if (b.rules && Object.keys(b.rules).length) {
      if (policy !== 'anti-affinity') throw badRequest('Only anti-affinity policy supports rules.')
      if (b.rules.max_server_per_host !== undefined) rules.max_server_per_host = Number(b.rules.max_server_per_host)
    }
    const g = await groups.create({ name: b.name, projectId: req.ctx.projectId ?? '', userId: req.ctx.userId, policy, rules })
    return { server_group: view(req, g) }
  })

  api.get(`${P}/os-server-groups`, { config: { selfPolicy: true } }, async (req) => {
    const q = queryOf(req)
    checkQueryKeys(req, q, ['all_projects', 'limit', 'offset'], '2.75')
    check(req, 'os_compute_api:os-server-groups:index', req.ctx.projectId)
    let all = false
    if (q.all_projects !== undefined) {
      // Nova reads any value but a false one as "all", for admins only.
      all = strictBool(q.all_projects) !== false && c.policy.check('os_compute_api:os-server-groups:index:all_projects', req.ctx, {})
    }
    const limit = Math.min(nonNegative(q, 'limit') ?? MAX_LIMIT, MAX_LIMIT)
    const offset = nonNegative(q, 'offset') ?? 0
    const found = await groups.list({ projectId: all ? undefined : req.ctx.projectId ?? '', offset, limit })
    return { server_groups: found.map((g) => view(req, g)) }
  })

  api.get(`${P}/os-server-groups/:id`, { config: { selfPolicy: true } }, async (req) => {
    const g = await groups.get((req.params as { id: string }).id)
    check(req, 'os_compute_api:os-server-groups:show', g.projectId)
    return { server_group: view(req, g) }
  })

  api.delete(`${P}/os-server-groups/:id`, { config: { selfPolicy: true } }, async (req, reply) => {
    const g = await groups.get((req.params as { id: string }).id)
    check(req, 'os_compute_api:os-server-groups:delete', g.projectId)
    await groups.delete(g.uuid)
    return reply.code(204).send()
  })
}
