import type { FastifyContextConfig, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { isUniqueViolation } from '../../core/db/index.ts'
import { CloudError, badRequest } from '../../core/errors.ts'
import type { Api } from '../../core/http/app.ts'
import type { IdentityCtx } from '../context.ts'
import {
  PROHIBITED_IMPLIED_ROLES, ROLE_COLUMNS, checkImmutableDelete, checkImmutableUpdate, deleteRole, findRole, getRole,
  mergeOptions, roleRef, roleView,
} from '../roles-store.ts'
import type { RoleRow } from '../schema.ts'
import { Name, duplicateError, listLinks, newId, notFoundError, parseJson, selfLink } from './common.ts'

// Keystone's role schema (keystone/assignment/schema.py): unknown attributes are accepted
// and kept; `options` knows only `immutable`.
const IdString = Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9-]+$' })
const RoleOptions = Type.Object({ immutable: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])) }, { additionalProperties: false })
const roleProps = {
  name: Name,
  description: Type.Optional(Type.Union([Type.String({ maxLength: 255 }), Type.Null()])),
  domain_id: Type.Optional(Type.Union([IdString, Type.Null()])),
  options: Type.Optional(RoleOptions),
}
const RoleCreate = Type.Object({ role: Type.Object(roleProps, { additionalProperties: true }) }, { additionalProperties: false })
const RoleUpdate = Type.Object({
  role: Type.Object({ ...roleProps, name: Type.Optional(Name) }, { additionalProperties: true, minProperties: 1 }),
}, { additionalProperties: false })
const RoleQuery = Type.Object({ name: Type.Optional(Type.String()), domain_id: Type.Optional(Type.String()) })
const RoleParams = Type.Object({ role_id: Type.String({ minLength: 1, maxLength: 255 }) })
const PriorParams = Type.Object({ prior_role_id: Type.String({ minLength: 1, maxLength: 255 }) })
const RuleParams = Type.Object({
  prior_role_id: Type.String({ minLength: 1, maxLength: 255 }), implied_role_id: Type.String({ minLength: 1, maxLength: 255 }),
})

/** The handler picks the rule (global and domain-specific roles have different rules in Keystone). */
const SELF_POLICY: FastifyContextConfig = { selfPolicy: true }

interface RoleBody {
  name?: string; description?: string | null; domain_id?: string | null
  options?: Record<string, unknown>; [k: string]: unknown
}

/** Keystone's _normalize_dict: unknown attribute names get ':' and '-' replaced by '_'. */
function extrasOf(body: RoleBody): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(body)) {
    if (!(ROLE_COLUMNS as readonly string[]).includes(k)) out[k.replace(/[:-]/g, '_')] = v
  }
  return out
}

/** `/v3/roles`, implied roles (`/v3/roles/{prior}/implies/{implied}`) and `/v3/role_inferences`. */
export function roleRoutes(api: Api, c: IdentityCtx): void {
  const db = c.db
  const enforce = (req: FastifyRequest, rule: string, target: Record<string, unknown> = {}) => c.policy.enforce(rule, req.ctx, target)

  /** Keystone enforces the global rule when the role is missing (before the 404) or global. */
  async function roleFor(req: FastifyRequest, id: string, rules: { global: string; domain: string }): Promise<RoleRow> {
    const role = await findRole(db, id)
    if (!role || role.domain_id === '') {
      enforce(req, rules.global)
      if (!role) throw notFoundError('role', id)
    } else {
      enforce(req, rules.domain, { role: { id: role.id, name: role.name, domain_id: role.domain_id } })
    }
    return role
  }

  api.get('/v3/roles', { schema: { querystring: RoleQuery }, config: SELF_POLICY }, async (req) => {
    const q = req.query as { name?: string; domain_id?: string }
    // Without a domain_id filter Keystone lists global roles only.
    if (q.domain_id) enforce(req, 'identity:list_domain_roles', { domain_id: q.domain_id })
    else enforce(req, 'identity:list_roles')
    let sel = db.selectFrom('roles').selectAll().where('domain_id', '=', q.domain_id || '')
    if (q.name !== undefined) sel = sel.where('name', '=', q.name)
    const rows = await sel.orderBy('name').orderBy('id').execute()
    return { roles: rows.map((r) => roleView(req, r)), links: listLinks(req) }
  })

  api.post('/v3/roles', { schema: { body: RoleCreate }, config: SELF_POLICY }, async (req, reply) => {
    const body = (req.body as { role: RoleBody }).role
    const domainId = body.domain_id ?? ''
    if (domainId) enforce(req, 'identity:create_domain_role', { role: { domain_id: domainId } })
    else enforce(req, 'identity:create_role')
    if (domainId && !(await db.selectFrom('domains').select('id').where('id', '=', domainId).executeTakeFirst())) {
      throw notFoundError('domain', domainId)
    }
    const row: RoleRow = {
      id: newId(), name: body.name!, domain_id: domainId, description: body.description ?? '',
      options: JSON.stringify(mergeOptions({}, body.options)), extra: JSON.stringify(extrasOf(body)),
      created_at: new Date(c.clock.now()).toISOString(),
    }
    try {
      await db.insertInto('roles').values(row).execute()
    } catch (err) {
      if (isUniqueViolation(err)) throw duplicateError('role', `name ${row.name}${domainId ? ` at domain ID ${domainId}` : ''}`)
      throw err
    }
    reply.code(201)
    return { role: roleView(req, row) }
  })

  api.get('/v3/roles/:role_id', { schema: { params: RoleParams }, config: SELF_POLICY }, async (req) => {
    const { role_id } = req.params as { role_id: string }
    const role = await roleFor(req, role_id, { global: 'identity:get_role', domain: 'identity:get_domain_role' })
    return { role: roleView(req, role) }
  })

  api.patch('/v3/roles/:role_id', { schema: { params: RoleParams, body: RoleUpdate }, config: SELF_POLICY }, async (req) => {
    const { role_id } = req.params as { role_id: string }
    const role = await roleFor(req, role_id, { global: 'identity:update_role', domain: 'identity:update_domain_role' })
    const patch = (req.body as { role: RoleBody }).role
    if (patch.id !== undefined && patch.id !== null && patch.id !== role_id) throw badRequest('Cannot change ID')
    checkImmutableUpdate(role, patch)
    if ('domain_id' in patch && (patch.domain_id ?? '') !== role.domain_id) throw badRequest('Update of `domain_id` is not allowed.')
    const next: RoleRow = {
      ...role,
      name: patch.name ?? role.name,
      description: 'description' in patch ? (patch.description ?? '') : role.description,
      options: JSON.stringify(mergeOptions(parseJson(role.options), patch.options)),
      extra: JSON.stringify({ ...parseJson(role.extra), ...extrasOf(patch) }),
    }
    try {
      await db.updateTable('roles').set({ name: next.name, description: next.description, options: next.options, extra: next.extra })
        .where('id', '=', role.id).execute()
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw duplicateError('role', `name ${next.name}${'domain_id' in patch && role.domain_id ? ` at domain ID ${role.domain_id}` : ''}`)
      }
      throw err
    }
    c.changed() // token bodies show role names
    return { role: roleView(req, next) }
  })

  api.delete('/v3/roles/:role_id', { schema: { params: RoleParams }, config: SELF_POLICY }, async (req, reply) => {
    const { role_id } = req.params as { role_id: string }
    const role = await roleFor(req, role_id, { global: 'identity:delete_role', domain: 'identity:delete_domain_role' })
    checkImmutableDelete(role)
    await deleteRole(c, role.id)
    reply.code(204).send()
  })

  // ---------------------------------------------------------------- implied roles

  // Keystone loads the roles to build the policy target, so a missing role is a 404 first.
  const priorTarget = async (req: FastifyRequest) => {
    const p = req.params as { prior_role_id: string }
    return { prior_role: await getRole(db, p.prior_role_id) }
  }
  const ruleTarget = async (req: FastifyRequest) => {
    const p = req.params as { prior_role_id: string; implied_role_id: string }
    return { prior_role: await getRole(db, p.prior_role_id), implied_role: await getRole(db, p.implied_role_id) }
  }
  const ruleLinks = (req: FastifyRequest, p: string, i: string) => selfLink(req, `/roles/${p}/implies/${i}`)

  /** The rule's body, or Keystone's 404 "prior does not imply implied." */
  async function showRule(req: FastifyRequest, prior: RoleRow, implied: RoleRow) {
    const rule = await db.selectFrom('implied_roles').select('prior_role_id')
      .where('prior_role_id', '=', prior.id).where('implied_role_id', '=', implied.id).executeTakeFirst()
    if (!rule) throw new CloudError('NotFound', `${prior.id} does not imply ${implied.id}.`)
    return { role_inference: { prior_role: roleRef(req, prior), implies: roleRef(req, implied) }, links: ruleLinks(req, prior.id, implied.id) }
  }

  api.get('/v3/roles/:prior_role_id/implies', {
    schema: { params: PriorParams }, config: { policy: 'identity:list_implied_roles', target: priorTarget },
  }, async (req) => {
    const { prior_role_id } = req.params as { prior_role_id: string }
    const prior = await getRole(db, prior_role_id)
    const implied = await db.selectFrom('implied_roles').innerJoin('roles', 'roles.id', 'implied_roles.implied_role_id')
      .select(['roles.id', 'roles.name']).where('implied_roles.prior_role_id', '=', prior.id).orderBy('roles.name').execute()
    return {
      role_inference: { prior_role: roleRef(req, prior), implies: implied.map((r) => roleRef(req, r)) },
      links: selfLink(req, `/roles/${prior.id}/implies`),
    }
  })

  // HEAD first: Fastify would otherwise derive it from the GET (Keystone answers 204 here).
  api.head('/v3/roles/:prior_role_id/implies/:implied_role_id', {
    schema: { params: RuleParams }, config: { policy: 'identity:check_implied_role', target: ruleTarget },
  }, async (req, reply) => {
    const p = req.params as { prior_role_id: string; implied_role_id: string }
    enforce(req, 'identity:get_implied_role') // Keystone's HEAD runs the GET, with its rule, too
    await showRule(req, await getRole(db, p.prior_role_id), await getRole(db, p.implied_role_id))
    reply.code(204).send()
  })

  api.get('/v3/roles/:prior_role_id/implies/:implied_role_id', {
    schema: { params: RuleParams }, config: { policy: 'identity:get_implied_role', target: ruleTarget },
  }, async (req) => {
    const p = req.params as { prior_role_id: string; implied_role_id: string }
    return showRule(req, await getRole(db, p.prior_role_id), await getRole(db, p.implied_role_id))
  })

  api.put('/v3/roles/:prior_role_id/implies/:implied_role_id', {
    schema: { params: RuleParams }, config: { policy: 'identity:create_implied_role', target: ruleTarget },
  }, async (req, reply) => {
    const p = req.params as { prior_role_id: string; implied_role_id: string }
    const prior = await getRole(db, p.prior_role_id)
    const implied = await getRole(db, p.implied_role_id)
    if (PROHIBITED_IMPLIED_ROLES.includes(implied.name)) {
      throw new CloudError('Forbidden', `${implied.id} cannot be an implied roles.`)
    }
    if (prior.domain_id === '' && implied.domain_id !== '') {
      throw new CloudError('Forbidden', 'Global role cannot imply a domain-specific role')
    }
    // Longer cycles are allowed, as in Keystone (expansion stops at them); a rule from a
    // role to itself says nothing and is refused.
    if (prior.id === implied.id) throw badRequest(`Role ${prior.id} cannot imply itself.`)
    try {
      await db.insertInto('implied_roles').values({ prior_role_id: prior.id, implied_role_id: implied.id }).execute()
    } catch (err) {
      if (isUniqueViolation(err)) throw new CloudError('Conflict', 'Conflict occurred attempting to store implied_role - Duplicate entry.')
      throw err
    }
    c.changed()
    reply.code(201)
    return { role_inference: { prior_role: roleRef(req, prior), implies: roleRef(req, implied) }, links: ruleLinks(req, prior.id, implied.id) }
  })

  api.delete('/v3/roles/:prior_role_id/implies/:implied_role_id', {
    schema: { params: RuleParams }, config: { policy: 'identity:delete_implied_role', target: ruleTarget },
  }, async (req, reply) => {
    const p = req.params as { prior_role_id: string; implied_role_id: string }
    const res = await db.deleteFrom('implied_roles')
      .where('prior_role_id', '=', p.prior_role_id).where('implied_role_id', '=', p.implied_role_id).executeTakeFirst()
    if (Number(res.numDeletedRows) === 0) throw new CloudError('NotFound', `${p.prior_role_id} does not imply ${p.implied_role_id}.`)
    c.changed()
    reply.code(204).send()
  })

  api.get('/v3/role_inferences', { config: { policy: 'identity:list_role_inference_rules' } }, async (req) => {
    const rows = await db.selectFrom('implied_roles')
      .innerJoin('roles as p', 'p.id', 'implied_roles.prior_role_id')
      .innerJoin('roles as i', 'i.id', 'implied_roles.implied_role_id')
      .select(['p.id as prior_id', 'p.name as prior_name', 'i.id as implied_id', 'i.name as implied_name'])
      .orderBy('p.name').orderBy('i.name').execute()
    const byPrior = new Map<string, { prior_role: ReturnType<typeof roleRef>; implies: ReturnType<typeof roleRef>[] }>()
    for (const r of rows) {
      let entry = byPrior.get(r.prior_id)
      if (!entry) { entry = { prior_role: roleRef(req, { id: r.prior_id, name: r.prior_name }), implies: [] }; byPrior.set(r.prior_id, entry) }
      entry.implies.push(roleRef(req, { id: r.implied_id, name: r.implied_name }))
    }
    return { role_inferences: [...byPrior.values()], links: listLinks(req) }
  })
}
