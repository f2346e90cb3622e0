import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { isUniqueViolation } from '../../core/db/index.ts'
import { CloudError, badRequest } from '../../core/errors.ts'
import type { Api } from '../../core/http/app.ts'
import type { IdentityCtx } from '../context.ts'
import type { UserRow } from '../schema.ts'
import {
  assertDefaultProject, assertDomain, changePassword, deleteUserCascade, getUser, mergeOptions, newPassword,
  recordPassword, withSelfService,
} from '../users-store.ts'
import { duplicateError, listLinks, Name, newId, parseJson } from './common.ts'
import { filterUsers, groupView, inexactFilter, userView } from './user-views.ts'

// Keystone's user schemas (keystone/identity/schema.py): users accept extra attributes,
// which are kept in `extra` and returned; options are a closed set, each nullable.

const NullableBool = Type.Unsafe<boolean | null>({ type: ['boolean', 'null'] })
const NullableString = Type.Unsafe<string | null>({ type: ['string', 'null'] })
const MfaRules = Type.Unsafe<string[][] | null>({
  type: ['array', 'null'], uniqueItems: true,
  items: { type: 'array', items: { type: 'string' }, minItems: 1, uniqueItems: true },
})
export const UserOptions = Type.Object({
  ignore_change_password_upon_first_use: Type.Optional(NullableBool),
  ignore_password_expiry: Type.Optional(NullableBool),
  ignore_lockout_failure_attempts: Type.Optional(NullableBool),
  lock_password: Type.Optional(NullableBool),
  ignore_user_inactivity: Type.Optional(NullableBool),
  multi_factor_auth_rules: Type.Optional(MfaRules),
  multi_factor_auth_enabled: Type.Optional(NullableBool),
}, { additionalProperties: false })

export const DomainId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9-]+$' })

const Federated = Type.Array(Type.Object({
  idp_id: Type.String(),
  protocols: Type.Array(Type.Object({ protocol_id: Type.String(), unique_id: Type.String() }), { minItems: 1 }),
}))

const userProps = {
  default_project_id: Type.Optional(NullableString),
  description: Type.Optional(NullableString),
  domain_id: Type.Optional(DomainId),
  enabled: Type.Optional(Type.Boolean()),
  federated: Type.Optional(Federated),
  // Keystone's max_password_length.
  password: Type.Optional(Type.Unsafe<string | null>({ type: ['string', 'null'], maxLength: 4096 })),
  options: Type.Optional(UserOptions),
}
const UserCreate = Type.Object({ user: Type.Object({ ...userProps, name: Name }) }, { additionalProperties: false })
const UserUpdate = Type.Object({ user: Type.Object({ ...userProps, name: Type.Optional(Name) }, { minProperties: 1 }) },
  { additionalProperties: false })
const PasswordChange = Type.Object({
  user: Type.Object({ original_password: Type.String(), password: Type.String({ maxLength: 4096 }) },
    { additionalProperties: false }),
})
const UserQuery = Type.Object({
  name: Type.Optional(Name), domain_id: Type.Optional(DomainId), enabled: Type.Optional(Type.String()),
  password_expires_at: Type.Optional(Type.String()), idp_id: Type.Optional(Type.String()),
  protocol_id: Type.Optional(Type.String()), unique_id: Type.Optional(Type.String()),
})
const GroupNameQuery = Type.Object({ name: Type.Optional(Name) })

type UserBody = {
  name?: string; domain_id?: string; enabled?: boolean; default_project_id?: string | null
  description?: string | null; password?: string | null; options?: Record<string, unknown>
  federated?: { idp_id: string }[]; id?: unknown
} & Record<string, unknown>

/** Attributes with their own columns (or no storage); everything else is `extra`. */
const KNOWN = new Set(['id', 'name', 'domain_id', 'enabled', 'default_project_id', 'password', 'options',
  'federated', 'links', 'password_expires_at'])

function extraOf(b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(b)) if (!KNOWN.has(k)) out[k] = v
  return out
}

/** Without federation there are no identity providers, so any federated object names an unknown one. */
function rejectFederated(b: UserBody): void {
  if (b.federated && b.federated.length > 0) throw badRequest(`Could not find Identity Provider: ${b.federated[0]!.idp_id}`)
}

const params = (req: FastifyRequest) => req.params as { user_id: string }

/** The policy target of a user route: the user as stored, when it exists (Keystone defers the 404). */
export function userTarget(c: IdentityCtx) {
  return async (req: FastifyRequest) => {
    const id = params(req).user_id
    const u = await c.db.selectFrom('users').select(['id', 'domain_id']).where('id', '=', id).executeTakeFirst()
    return { user_id: id, ...(u ? { user: { id: u.id, domain_id: u.domain_id } } : {}) }
  }
}

/** Keystone's _normalize_domain_id: the body's domain, else a domain-scoped token's, else 'default'. */
const domainFor = (req: FastifyRequest, b: UserBody) => b.domain_id || req.ctx.domainId || 'default'

export function userRoutes(api: Api, c: IdentityCtx): void {
  const bodyUser = (req: FastifyRequest) => (req.body as { user: UserBody }).user

  api.post('/v3/users', {
    schema: { body: UserCreate },
    config: { policy: 'identity:create_user',
      target: (req) => ({ user: { ...bodyUser(req), domain_id: domainFor(req, bodyUser(req)) } }) },
  }, async (req, reply) => {
    const b = bodyUser(req)
    const domainId = domainFor(req, b)
    await assertDomain(c.db, domainId)
    await assertDefaultProject(c.db, b.default_project_id)
    rejectFederated(b)
    const options = mergeOptions('{}', b.options)
    const extra = extraOf(b)
    const pw = 'password' in b ? await newPassword(c, b.password ?? null, options) : null
    const now = new Date(c.clock.now()).toISOString()
    const row: UserRow = {
      id: newId(), name: b.name!.trim(), domain_id: domainId, enabled: b.enabled === false ? 0 : 1,
      default_project_id: b.default_project_id ?? null,
      description: typeof b.description === 'string' ? b.description : '',
      extra: JSON.stringify(extra), options: withSelfService(options, false),
      password_hash: pw?.password_hash ?? null, password_created_at: pw?.password_created_at ?? null,
      password_expires_at: pw?.password_expires_at ?? null,
      failed_auth_count: 0, failed_auth_at: null, last_active_at: null, created_at: now,
    }
    try {
      await c.db.transaction().execute(async (tx) => {
        await tx.insertInto('users').values(row).execute()
        if (pw) await recordPassword(tx, c.config, row.id, pw)
      })
    } catch (err) {
      if (isUniqueViolation(err)) throw duplicateError('user', `name ${row.name} at domain ID ${domainId}`)
      throw err
    }
    c.changed()
    reply.code(201)
    return { user: userView(req, row) }
  })

  api.get('/v3/users', {
    schema: { querystring: UserQuery },
    config: { policy: 'identity:list_users', target: (req) => (req.ctx.domainId ? { domain_id: req.ctx.domainId } : {}) },
  }, async (req) => {
    const query = req.query as Record<string, unknown>
    let q = filterUsers(c.db.selectFrom('users').selectAll(), query)
    // A domain-scoped token sees its domain's users only.
    if (req.ctx.domainId) q = q.where('domain_id', '=', req.ctx.domainId)
    const rows = await q.orderBy('id').execute()
    const users = inexactFilter(rows.map((u) => userView(req, u)), query, ['name', 'domain_id'])
    return { users, links: listLinks(req) }
  })

  api.get('/v3/users/:user_id', { config: { policy: 'identity:get_user', target: userTarget(c) } }, async (req) => {
    return { user: userView(req, await getUser(c.db, params(req).user_id)) }
  })

  api.patch('/v3/users/:user_id', {
    schema: { body: UserUpdate },
    config: { policy: 'identity:update_user', target: userTarget(c) },
  }, async (req) => {
    const id = params(req).user_id
    const old = await getUser(c.db, id)
    const b = bodyUser(req)
    if (b.id !== undefined && b.id !== null && b.id !== id) throw badRequest('Cannot change ID')
    if (b.domain_id !== undefined && b.domain_id !== old.domain_id) throw badRequest('Cannot change Domain ID')
    await assertDefaultProject(c.db, b.default_project_id)
    rejectFederated(b)
    const options = mergeOptions(old.options, b.options)
    const extra = { ...parseJson(old.extra), ...extraOf(b) }
    const pw = 'password' in b ? await newPassword(c, b.password ?? null, options) : null
    const enabled = b.enabled === undefined ? old.enabled : (b.enabled ? 1 : 0)
    const row: UserRow = {
      ...old,
      name: b.name !== undefined ? b.name.trim() : old.name,
      enabled,
      default_project_id: b.default_project_id !== undefined ? b.default_project_id : old.default_project_id,
      description: 'description' in b ? (typeof b.description === 'string' ? b.description : '') : old.description,
      extra: JSON.stringify(extra),
      // An administrator's reset is not self-service: the minimum age does not apply to it.
      options: pw ? withSelfService(options, false) : JSON.stringify(options),
      ...(pw ?? {}),
      // Keystone's enabled setter clears failed attempts whenever the user is (or stays) enabled.
      ...(enabled ? { failed_auth_count: 0, failed_auth_at: null } : {}),
    }
    const { id: _id, created_at: _created, ...changes } = row
    try {
      await c.db.transaction().execute(async (tx) => {
        await tx.updateTable('users').set(changes).where('id', '=', id).execute()
        if (pw) await recordPassword(tx, c.config, id, pw)
      })
    } catch (err) {
      if (isUniqueViolation(err)) throw duplicateError('user', `name ${row.name}`)
      throw err
    }
    // Disabling a user or setting a password ends their tokens (Keystone's update_user).
    if ((old.enabled && !enabled) || (pw && pw.password_hash !== null)) await c.revocations.revoke({ userId: id })
    c.changed()
    return { user: userView(req, row) }
  })

  api.delete('/v3/users/:user_id', { config: { policy: 'identity:delete_user', target: userTarget(c) } }, async (req, reply) => {
    const u = await getUser(c.db, params(req).user_id)
    await deleteUserCascade(c.db, u.id)
    await c.revocations.revoke({ userId: u.id })
    c.changed()
    reply.code(204).send()
  })

  // Changing one's own password is authorised by the original password, not by a token.
  api.post('/v3/users/:user_id/password', { schema: { body: PasswordChange }, config: { public: true } }, async (req, reply) => {
    const b = (req.body as { user: { original_password: string; password: string } }).user
    await changePassword(c, params(req).user_id, b.original_password, b.password)
    reply.code(204).send()
  })
  api.get('/v3/users/:user_id/password', { config: { public: true } }, async () => {
    throw new CloudError('MethodNotAllowed', 'The method is not allowed for the requested URL.', 'MethodNotAllowed',
      { headers: { allow: 'POST' } })
  })

  api.get('/v3/users/:user_id/groups', {
    schema: { querystring: GroupNameQuery },
    config: { policy: 'identity:list_groups_for_user', target: userTarget(c) },
  }, async (req) => {
    const u = await getUser(c.db, params(req).user_id)
    const query = req.query as Record<string, unknown>
    let q = c.db.selectFrom('groups').innerJoin('user_groups', 'user_groups.group_id', 'groups.id')
      .selectAll('groups').where('user_groups.user_id', '=', u.id)
    if (typeof query.name === 'string') q = q.where('groups.name', '=', query.name)
    if (req.ctx.domainId) q = q.where('groups.domain_id', '=', req.ctx.domainId)
    const rows = await q.orderBy('groups.id').execute()
    // Keystone lists memberships, which may expire (federation); ours never do.
    const groups = inexactFilter(rows.map((g) => ({ ...groupView(req, g), membership_expires_at: null })), query, ['name'])
    return { groups, links: listLinks(req) }
  })
}
