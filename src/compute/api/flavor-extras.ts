import type { FastifyRequest } from 'fastify'
import type { Api } from '../../core/http/app.ts'
import { bodyOf } from '../../core/http/app.ts'
import { CloudError, badRequest } from '../../core/errors.ts'
import type { ComputeCtx } from '../context.ts'
import type { FlavorService } from '../flavors.ts'
import { validateBody } from './common.ts'

// Flavor extra specs (flavors_extraspecs.py, schemas/flavors_extraspecs.py) and flavor access
// (flavor_access.py, schemas/flavor_access.py).

const KEY_PATTERN = '^[a-zA-Z0-9-_:. ]{1,255}$'
const VALUE = { type: ['string', 'number', 'boolean'], minLength: 0, maxLength: 255 }
const SPECS_CREATE = {
  type: 'object', required: ['extra_specs'], additionalProperties: false,
  properties: { extra_specs: { type: 'object', minProperties: 1, patternProperties: { [KEY_PATTERN]: VALUE }, additionalProperties: false } },
}
const SPEC_UPDATE = {
  type: 'object', minProperties: 1, maxProperties: 1, patternProperties: { [KEY_PATTERN]: VALUE }, additionalProperties: false,
}
const TENANT = { type: 'object', required: ['tenant'], additionalProperties: false,
  properties: { tenant: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[a-zA-Z0-9-_]*$' } } }
const ACTION = {
  type: 'object', minProperties: 1, maxProperties: 1, additionalProperties: false,
  properties: { addTenantAccess: TENANT, removeTenantAccess: TENANT },
}

/** Python's str() of a JSON scalar: how Nova stores a number or boolean extra spec. */
function pyStr(v: string | number | boolean): string {
  if (typeof v === 'boolean') return v ? 'True' : 'False'
  return String(v)
}

export function flavorExtraRoutes(api: Api, c: ComputeCtx, flavors: FlavorService, P: string): void {
  // Nova checks these rules against the caller's own project.
  const own = (req: FastifyRequest) => ({ project_id: req.ctx.projectId })
  const id = (req: FastifyRequest) => (req.params as { id: string }).id

  api.get(`${P}/flavors/:id/os-extra_specs`, { config: { policy: 'os_compute_api:os-flavor-extra-specs:index', target: own } },
    async (req) => {
      await flavors.get(id(req))
      return { extra_specs: (await flavors.extraSpecs([id(req)])).get(id(req)) }
    })
  api.post(`${P}/flavors/:id/os-extra_specs`, {
    config: { policy: 'os_compute_api:os-flavor-extra-specs:create', target: own },
    preValidation: async (req) => validateBody(req, SPECS_CREATE),
  }, async (req) => {
    const specs = bodyOf<{ extra_specs: Record<string, string | number | boolean> }>(req).extra_specs
    await flavors.setExtraSpecs(id(req), Object.fromEntries(Object.entries(specs).map(([k, v]) => [k, pyStr(v)])))
    return { extra_specs: specs }
  })
  api.get(`${P}/flavors/:id/os-extra_specs/:key`, { config: { policy: 'os_compute_api:os-flavor-extra-specs:show', target: own } },
    async (req) => {
      const { key } = req.params as { key: string }
      await flavors.get(id(req))
      const specs = (await flavors.extraSpecs([id(req)])).get(id(req))!
      if (!(key in specs)) throw new CloudError('NotFound', `Flavor ${id(req)} has no extra specs with key ${key}.`)
      return { [key]: specs[key] }
    })
  api.put(`${P}/flavors/:id/os-extra_specs/:key`, {
    config: { policy: 'os_compute_api:os-flavor-extra-specs:update', target: own },
    preValidation: async (req) => validateBody(req, SPEC_UPDATE),
  }, async (req) => {
    const { key } = req.params as { key: string }
    const body = bodyOf<Record<string, string | number | boolean>>(req)
    if (!(key in body)) throw badRequest('Request body and URI mismatch')
    await flavors.setExtraSpecs(id(req), { [key]: pyStr(body[key]!) })
    return body
  })
  api.delete(`${P}/flavors/:id/os-extra_specs/:key`, { config: { policy: 'os_compute_api:os-flavor-extra-specs:delete', target: own } },
    async (req, reply) => {
      // Nova answers 200 with no body here (flavor delete is 202).
      await flavors.deleteExtraSpec(id(req), (req.params as { key: string }).key)
      return reply.code(200).send()
    })

  const accessView = async (flavorId: string) =>
    ({ flavor_access: (await flavors.accessList(flavorId)).map((p) => ({ flavor_id: flavorId, tenant_id: p })) })

  api.get(`${P}/flavors/:id/os-flavor-access`, { config: { policy: 'os_compute_api:os-flavor-access', target: own } },
    async (req) => accessView(id(req)))

  // POST /flavors/{id}/action: the body's single key names the action (each with its own rule).
  api.post(`${P}/flavors/:id/action`, {
    config: { selfPolicy: true },
    preValidation: async (req) => validateBody(req, ACTION),
  }, async (req) => {
    const body = bodyOf<{ addTenantAccess?: { tenant: string }; removeTenantAccess?: { tenant: string } }>(req)
    if (body.addTenantAccess) {
      c.policy.enforce('os_compute_api:os-flavor-access:add_tenant_access', req.ctx, own(req))
      await flavors.addAccess(id(req), body.addTenantAccess.tenant)
    } else {
      c.policy.enforce('os_compute_api:os-flavor-access:remove_tenant_access', req.ctx, own(req))
      await flavors.removeAccess(id(req), body.removeTenantAccess!.tenant)
    }
    return accessView(id(req))
  })
}
