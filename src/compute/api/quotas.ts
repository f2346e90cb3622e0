import type { FastifyRequest } from 'fastify'
import type { Api } from '../../core/http/app.ts'
import { bodyOf } from '../../core/http/app.ts'
import { badRequest } from '../../core/errors.ts'
import type { ComputeCtx } from '../context.ts'
import { atLeast } from '../microversion.ts'
import { DEFAULT_QUOTAS, type QuotaService, USER_RESOURCES } from '../quotas.ts'
import { BOOLEAN_SCHEMA, checkQueryKeys, deny, queryOf, toBool, validateBody } from './common.ts'

// /limits (limits.py, views/limits.py) and /os-quota-sets (quota_sets.py, schemas/quota_sets.py).
// 2.36 drops the nova-network quotas, 2.39 maxImageMeta, 2.57 the personality (injected file) ones.

const NET_236 = ['fixed_ips', 'floating_ips', 'security_group_rules', 'security_groups']
const FILES_257 = ['injected_files', 'injected_file_content_bytes', 'injected_file_path_bytes']

/** The quota resources shown (and accepted) at the request's microversion. */
function resources(req: FastifyRequest): string[] {
  return Object.keys(DEFAULT_QUOTAS).filter((r) =>
    !(atLeast(req, '2.36') && NET_236.includes(r)) && !(atLeast(req, '2.57') && FILES_257.includes(r)))
}

const quotaValue = { type: ['integer', 'string'], pattern: '^-?[0-9]+$', minimum: -1, maximum: 2147483647 }
const updateSchemas = new Map<string, object>()
function updateSchema(req: FastifyRequest): object {
  const names = resources(req)
  const key = names.join(',')
  let s = updateSchemas.get(key)
  if (!s) {
    s = {
      type: 'object', required: ['quota_set'], additionalProperties: false,
      properties: { quota_set: { type: 'object', additionalProperties: false,
        properties: { ...Object.fromEntries(names.map((n) => [n, quotaValue])), force: BOOLEAN_SCHEMA } } },
    }
    updateSchemas.set(key, s)
  }
  return s
}

/** /limits: absolute limits name → quota resource, and the microversion that removed it. */
const ABSOLUTE: Array<[string, string, string?]> = [
  ['maxTotalInstances', 'instances'], ['maxTotalCores', 'cores'], ['maxTotalRAMSize', 'ram'],
  ['maxServerMeta', 'metadata_items'], ['maxImageMeta', 'metadata_items', '2.39'],
  ['maxPersonality', 'injected_files', '2.57'], ['maxPersonalitySize', 'injected_file_content_bytes', '2.57'],
  ['maxTotalKeypairs', 'key_pairs'], ['maxServerGroups', 'server_groups'], ['maxServerGroupMembers', 'server_group_members'],
  ['maxSecurityGroups', 'security_groups', '2.36'], ['maxSecurityGroupRules', 'security_group_rules', '2.36'],
  ['maxTotalFloatingIps', 'floating_ips', '2.36'],
]
const USED: Array<[string, string, string?]> = [
  ['totalInstancesUsed', 'instances'], ['totalCoresUsed', 'cores'], ['totalRAMUsed', 'ram'],
  ['totalServerGroupsUsed', 'server_groups'], ['totalSecurityGroupsUsed', 'security_groups', '2.36'],
  ['totalFloatingIpsUsed', 'floating_ips', '2.36'],
]

export function quotaRoutes(api: Api, c: ComputeCtx, quotas: QuotaService, P: string): void {
  api.get(`${P}/limits`, { config: { policy: 'os_compute_api:limits' } }, async (req) => {
    const q = queryOf(req)
    checkQueryKeys(req, q, ['tenant_id', 'reserved'], '2.75')
    let projectId = req.ctx.projectId ?? ''
    if (q.tenant_id !== undefined && q.tenant_id !== projectId) {
      // Another project's limits are an admin's question; others quietly get their own, as in Nova.
      if (c.policy.check('os_compute_api:limits:other_project', req.ctx, { project_id: q.tenant_id })) projectId = q.tenant_id
    }
    const limits = await quotas.limits(projectId)
    const used = await quotas.usage(undefined, projectId)
    const absolute: Record<string, number> = {}
    for (const [name, res, until] of ABSOLUTE) if (!until || !atLeast(req, until)) absolute[name] = limits[res]!
    for (const [name, res, until] of USED) if (!until || !atLeast(req, until)) absolute[name] = used[res]!
    return { limits: { rate: [], absolute } }
  })

  /** The project in the URL and the optional `user_id`; the rule is checked against that project. */
  function scope(req: FastifyRequest, rule: string): { projectId: string; userId?: string } {
    const projectId = (req.params as { id: string }).id
    const q = queryOf(req)
    checkQueryKeys(req, q, ['user_id'], '2.75')
    if (!c.policy.check(rule, req.ctx, { project_id: projectId })) throw deny(rule)
    return { projectId, userId: q.user_id || undefined }
  }
  const pick = (req: FastifyRequest, values: Record<string, number>) =>
    Object.fromEntries(resources(req).map((r) => [r, values[r]!]))

  api.get(`${P}/os-quota-sets/:id`, { config: { selfPolicy: true } }, async (req) => {
    const { projectId, userId } = scope(req, 'os_compute_api:os-quota-sets:show')
    return { quota_set: { id: projectId, ...pick(req, await quotas.limits(projectId, userId)) } }
  })
  api.get(`${P}/os-quota-sets/:id/detail`, { config: { selfPolicy: true } }, async (req) => {
    const { projectId, userId } = scope(req, 'os_compute_api:os-quota-sets:detail')
    const limits = await quotas.limits(projectId, userId)
    const used = await quotas.usage(userId, projectId)
    const detail = Object.fromEntries(resources(req).map((r) => [r, { in_use: used[r] ?? 0, limit: limits[r], reserved: 0 }]))
    return { quota_set: { id: projectId, ...detail } }
  })
  api.get(`${P}/os-quota-sets/:id/defaults`, { config: { selfPolicy: true } }, async (req) => {
    const { projectId } = scope(req, 'os_compute_api:os-quota-sets:defaults')
    return { quota_set: { id: projectId, ...pick(req, await quotas.defaults()) } }
  })
  api.put(`${P}/os-quota-sets/:id`, {
    config: { selfPolicy: true },
    preValidation: async (req) => validateBody(req, updateSchema(req)),
  }, async (req) => {
    const { projectId, userId } = scope(req, 'os_compute_api:os-quota-sets:update')
    const body = bodyOf<{ quota_set: Record<string, number | string | boolean> }>(req).quota_set
    const force = body.force !== undefined && toBool(body.force as string | boolean)
    const values: Record<string, number> = {}
    for (const [k, v] of Object.entries(body)) if (k !== 'force') values[k] = Number(v)
    if (!force) {
      const used = await quotas.usage(userId, projectId)
      const project = userId ? await quotas.limits(projectId) : undefined
      for (const [r, v] of Object.entries(values)) {
        // Per-user resources are only counted for a user's own quota.
        const inUse = USER_RESOURCES.has(r) && !userId ? 0 : used[r] ?? 0
        if (v !== -1 && v < inUse) {
          throw badRequest(`Quota limit ${v} for ${r} must be greater than or equal to already used and reserved ${inUse}.`)
        }
        const max = project?.[r]
        if (project && max !== undefined && max !== -1 && (v === -1 || v > max)) {
          throw badRequest(`Quota limit ${v} for ${r} must be less than or equal to ${max}.`)
        }
      }
    }
    await quotas.set(projectId, userId, values)
    return { quota_set: pick(req, await quotas.limits(projectId, userId)) }
  })
  api.delete(`${P}/os-quota-sets/:id`, { config: { selfPolicy: true } }, async (req, reply) => {
    const { projectId, userId } = scope(req, 'os_compute_api:os-quota-sets:delete')
    await quotas.reset(projectId, userId)
    reply.code(202)
    return reply.send()
  })
}

/**
 * Quota class resources at a microversion (quota_classes.py): before 2.50 the nova-network
 * ones and no server group ones; from 2.57 no injected files.
 */
function classResources(req: FastifyRequest): string[] {
  const v250 = atLeast(req, '2.50')
  return Object.keys(DEFAULT_QUOTAS).filter((r) =>
    !(v250 && NET_236.includes(r)) && !(!v250 && r.startsWith('server_group')) && !(atLeast(req, '2.57') && FILES_257.includes(r)))
}
const classSchemas = new Map<string, object>()
function classSchema(req: FastifyRequest): object {
  const names = classResources(req)
  const key = names.join(',')
  let s = classSchemas.get(key)
  if (!s) {
    s = {
      type: 'object', required: ['quota_class_set'], additionalProperties: false,
      properties: { quota_class_set: { type: 'object', additionalProperties: false,
        properties: Object.fromEntries(names.map((n) => [n, quotaValue])) } },
    }
    classSchemas.set(key, s)
  }
  return s
}

/** /os-quota-class-sets/{class}: the `default` class sets every project's defaults. */
export function quotaClassRoutes(api: Api, quotas: QuotaService, P: string): void {
  const pick = (req: FastifyRequest, values: Record<string, number>) =>
    Object.fromEntries(classResources(req).map((r) => [r, values[r]!]))
  const name = (req: FastifyRequest) => (req.params as { id: string }).id
  api.get(`${P}/os-quota-class-sets/:id`, { config: { policy: 'os_compute_api:os-quota-class-sets:show' } }, async (req) =>
    ({ quota_class_set: { id: name(req), ...pick(req, await quotas.classLimits(name(req))) } }))
  api.put(`${P}/os-quota-class-sets/:id`, {
    config: { policy: 'os_compute_api:os-quota-class-sets:update' },
    preValidation: async (req) => validateBody(req, classSchema(req)),
  }, async (req) => {
    const body = bodyOf<{ quota_class_set: Record<string, number | string> }>(req).quota_class_set
    await quotas.setClass(name(req), Object.fromEntries(Object.entries(body).map(([k, v]) => [k, Number(v)])))
    return { quota_class_set: pick(req, await quotas.classLimits(name(req))) }
  })
}
