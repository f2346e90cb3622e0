import type { FastifyRequest } from 'fastify'
import { type Static, Type } from 'typebox'
import { isUniqueViolation } from '../../core/db/index.ts'
import { CloudError, badRequest, forbidden } from '../../core/errors.ts'
import type { Api } from '../../core/http/app.ts'
import {
  type AccessRuleRequest, accessRuleNotFound, accessRuleView, appCredDetails, appCredView, assertUnrestricted,
  generateSecret, hasRuleContent, linkAccessRules, parseExpiry,
} from '../app-credentials-store.ts'
import type { IdentityCtx } from '../context.ts'
import { effectiveRoles, expandImplied } from '../effective-roles.ts'
import { hashPassword } from '../passwords.ts'
import type { AccessRuleRow, AppCredRow } from '../schema.ts'
import { Name, duplicateError, listLinks, newId, notFoundError, selfLink } from './common.ts'

// Application credentials and access rules under /v3/users/{user_id}
// (keystone/api/users.py, keystone/application_credential/schema.py). Authentication with
// them is in auth-service.ts; this file creates, shows and deletes them.

const IdString = Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9-]+$' })
const Method = Type.Union([Type.Literal('DELETE'), Type.Literal('GET'), Type.Literal('HEAD'), Type.Literal('PATCH'),
  Type.Literal('POST'), Type.Literal('PUT')])
const AccessRuleIn = Type.Object({
  id: Type.Optional(IdString),
  path: Type.Optional(Type.String({ maxLength: 225, pattern: '^/' })),
  service: Type.Optional(IdString),
  method: Type.Optional(Method),
})
const RoleRef = Type.Object({ id: Type.Optional(IdString), name: Type.Optional(Name) },
  { minProperties: 1, maxProperties: 1, additionalProperties: false })
const AppCredCreate = Type.Object({
  application_credential: Type.Object({
    id: Type.Optional(Type.String()),
    name: Name,
    secret: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    description: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    expires_at: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    project_id: Type.Optional(Type.String()),
    system: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    unrestricted: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    roles: Type.Optional(Type.Array(RoleRef)),
    access_rules: Type.Optional(Type.Array(AccessRuleIn)),
  }, { additionalProperties: false }),
}, { additionalProperties: false })
const UserParams = Type.Object({ user_id: Type.String({ minLength: 1, maxLength: 255 }) })
const ItemParams = Type.Object({ user_id: Type.String({ minLength: 1, maxLength: 255 }), id: Type.String({ minLength: 1, maxLength: 255 }) })
const NameQuery = Type.Object({ name: Type.Optional(Type.String()) })
const RuleQuery = Type.Object({ service: Type.Optional(Type.String()), path: Type.Optional(Type.String()), method: Type.Optional(Type.String()) })

type CreateBody = Static<typeof AppCredCreate>['application_credential']
const invalid = (detail: string) => badRequest(`Invalid application credential: ${detail}`)

export function appCredentialRoutes(api: Api, c: IdentityCtx): void {
  const db = c.db
  const pathUser = (req: FastifyRequest) => (req.params as { user_id: string }).user_id
  const byId = (id: string) => db.selectFrom('application_credentials').selectAll().where('id', '=', id).executeTakeFirst()

  // Ownership is checked against the credential's real owner, not the user in the path
  // (Keystone's _update_request_user_id_attribute), so a path cannot borrow someone's id.
  const appCredTarget = async (req: FastifyRequest) => {
    const row = await byId((req.params as { id: string }).id)
    return { user_id: row?.user_id ?? pathUser(req) }
  }
  const userTarget = (req: FastifyRequest) => ({ user_id: pathUser(req) })

  async function load(id: string): Promise<AppCredRow> {
    const row = await byId(id)
    if (!row) throw new CloudError('NotFound', `Could not find Application Credential: ${id}.`)
    return row
  }

  /** The roles of a new credential: the token's, or those asked for (plus what they imply). */
  async function chooseRoles(req: FastifyRequest, asked: CreateBody['roles'], projectId: string): Promise<string[]> {
    const tokenRoles = new Set(req.ctx.roles.map((r) => r.id))
    if (!asked || asked.length === 0) return [...tokenRoles]
    const ids: string[] = []
    for (const r of asked) {
      if (r.id) { ids.push(r.id); continue }
      const byName = await db.selectFrom('roles').select('id').where('name', '=', r.name!).where('domain_id', '=', '').executeTakeFirst()
      if (!byName) throw notFoundError('role', r.name!)
      ids.push(byName.id)
    }
    const all = [...await expandImplied(db, ids)]
    // A credential may not hold a role its creator's token lacks (no escalation through it).
    if (all.some((id) => !tokenRoles.has(id))) throw invalid('Cannot create an application credential with unassigned role')
    const held = new Set((await effectiveRoles(db, req.ctx.userId, { project: projectId })).map((r) => r.id))
    const missing = all.find((id) => !held.has(id))
    if (missing) {
      throw invalid(`Could not find role assignment with role: ${missing}, user or group: ${req.ctx.userId}, project, domain, or system: ${projectId}.`)
    }
    return all
  }

  /** Checks what can be checked before touching the database: a rule needs an id or its whole content. */
  function checkRules(asked: CreateBody['access_rules']): AccessRuleRequest[] {
    const rules = asked ?? []
    if (rules.some((r) => !r.id && !hasRuleContent(r))) throw invalid('an access rule needs service, path and method, or the id of an existing rule')
    return rules
  }

  // ------------------------------------------------------------------ application credentials

  api.get('/v3/users/:user_id/application_credentials', {
    schema: { params: UserParams, querystring: NameQuery },
    config: { policy: 'identity:list_application_credentials', target: userTarget },
  }, async (req) => {
    const q = req.query as { name?: string }
    let sel = db.selectFrom('application_credentials').selectAll().where('user_id', '=', pathUser(req)).orderBy('created_at').orderBy('id')
    if (q.name !== undefined) sel = sel.where('name', '=', q.name)
    const details = await appCredDetails(db, await sel.execute())
    return { application_credentials: details.map((d) => appCredView(req, d)), links: listLinks(req) }
  })

  api.post('/v3/users/:user_id/application_credentials', {
    schema: { params: UserParams, body: AppCredCreate },
    config: { policy: 'identity:create_application_credential', target: userTarget },
  }, async (req, reply) => {
    const ctx = req.ctx
    const b = (req.body as { application_credential: CreateBody }).application_credential
    await assertUnrestricted(db, ctx, 'application credentials')
    if (ctx.userId !== pathUser(req)) {
      throw forbidden('You are not authorized to perform the requested action: Cannot create an application credential for another user..')
    }
    // The credential is bound to the project of the token that creates it.
    const projectId = ctx.projectId
    if (!projectId) throw invalid('a project-scoped token is required to create an application credential.')
    const now = c.clock.now()
    const expiresAt = b.expires_at ? parseExpiry(b.expires_at, now) : null
    const roleIds = await chooseRoles(req, b.roles, projectId)
    const rules = checkRules(b.access_rules)
    const dup = () => duplicateError('application_credential', `name ${b.name}`)
    if (await db.selectFrom('application_credentials').select('id').where('user_id', '=', ctx.userId).where('name', '=', b.name).executeTakeFirst()) throw dup()
    const secret = b.secret || generateSecret()
    const row: AppCredRow = {
      id: newId(), name: b.name, user_id: ctx.userId, project_id: projectId, system: null,
      secret_hash: await hashPassword(secret, c.config.scryptCost), description: b.description ?? '',
      expires_at: expiresAt, unrestricted: b.unrestricted ? 1 : 0, created_at: new Date(now).toISOString(),
    }
    const insert = () => db.transaction().execute(async (tx) => {
      await tx.insertInto('application_credentials').values(row).execute()
      if (roleIds.length > 0) await tx.insertInto('app_cred_roles').values(roleIds.map((role_id) => ({ app_cred_id: row.id, role_id }))).execute()
      await linkAccessRules(tx, ctx.userId, row.id, rules)
    })
    try {
      await insert()
    } catch (err) {
      if (!isUniqueViolation(err)) throw err
      if (await db.selectFrom('application_credentials').select('id').where('user_id', '=', ctx.userId).where('name', '=', b.name).executeTakeFirst()) throw dup()
      // A concurrent request created one of the same access rules first: now it is found and reused.
      try { await insert() } catch (again) { throw isUniqueViolation(again) ? dup() : again }
    }
    c.log.info({ appCred: row.id, user: row.user_id, project: projectId }, 'application credential created')
    const [detail] = await appCredDetails(db, [row])
    reply.code(201)
    // The secret is shown this once; only its hash is kept.
    return { application_credential: { ...appCredView(req, detail!), secret } }
  })

  api.get('/v3/users/:user_id/application_credentials/:id', {
    schema: { params: ItemParams },
    config: { policy: 'identity:get_application_credential', target: appCredTarget },
  }, async (req) => {
    const row = await load((req.params as { id: string }).id)
    const [detail] = await appCredDetails(db, [row])
    return { application_credential: appCredView(req, detail!) }
  })

  api.delete('/v3/users/:user_id/application_credentials/:id', {
    schema: { params: ItemParams },
    config: { policy: 'identity:delete_application_credential', target: appCredTarget },
  }, async (req, reply) => {
    await assertUnrestricted(db, req.ctx, 'application credentials')
    const row = await load((req.params as { id: string }).id)
    await db.deleteFrom('application_credentials').where('id', '=', row.id).execute()
    // Tokens obtained with it die with it.
    await c.revocations.revoke({ appCredId: row.id })
    c.changed()
    reply.code(204).send()
  })

  // ------------------------------------------------------------------ access rules

  const rulesOf = (userId: string) => db.selectFrom('access_rules').selectAll().where('user_id', '=', userId)

  async function loadRule(userId: string, id: string): Promise<AccessRuleRow> {
    const r = await rulesOf(userId).where('id', '=', id).executeTakeFirst()
    if (!r) throw accessRuleNotFound(id)
    return r
  }

  api.get('/v3/users/:user_id/access_rules', {
    schema: { params: UserParams, querystring: RuleQuery },
    config: { policy: 'identity:list_access_rules', target: userTarget },
  }, async (req) => {
    const q = req.query as { service?: string; path?: string; method?: string }
    let sel = rulesOf(pathUser(req)).orderBy('id')
    if (q.service !== undefined) sel = sel.where('service', '=', q.service)
    if (q.path !== undefined) sel = sel.where('path', '=', q.path)
    if (q.method !== undefined) sel = sel.where('method', '=', q.method)
    const rows = await sel.execute()
    return { access_rules: rows.map((r) => ruleView(req, r)), links: listLinks(req) }
  })

  api.get('/v3/users/:user_id/access_rules/:id', {
    schema: { params: ItemParams },
    config: { policy: 'identity:get_access_rule', target: userTarget },
  }, async (req) => {
    return { access_rule: ruleView(req, await loadRule(pathUser(req), (req.params as { id: string }).id)) }
  })

  api.delete('/v3/users/:user_id/access_rules/:id', {
    schema: { params: ItemParams },
    config: { policy: 'identity:delete_access_rule', target: userTarget },
  }, async (req, reply) => {
    const rule = await loadRule(pathUser(req), (req.params as { id: string }).id)
    // As Keystone: a rule an application credential still uses cannot go. One statement, so a
    // credential linking it meanwhile cannot lose it.
    const del = await db.deleteFrom('access_rules').where('id', '=', rule.id)
      .where((eb) => eb.not(eb.exists(eb.selectFrom('app_cred_access_rules as l').select('l.access_rule_id')
        .whereRef('l.access_rule_id', '=', 'access_rules.id'))))
      .executeTakeFirst()
    if (Number(del.numDeletedRows) === 0) {
      if (await db.selectFrom('access_rules').select('id').where('id', '=', rule.id).executeTakeFirst()) throw forbidden('May not delete access rule in use')
      throw accessRuleNotFound(rule.id)
    }
    reply.code(204).send()
  })
}

function ruleView(req: FastifyRequest, r: AccessRuleRow) {
  return { ...accessRuleView(r), links: selfLink(req, `/users/${(req.params as { user_id: string }).user_id}/access_rules/${r.id}`) }
}
