import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { isUniqueViolation } from '../../core/db/index.ts'
import { CloudError, badRequest } from '../../core/errors.ts'
import type { Api } from '../../core/http/app.ts'
import type { IdentityCtx } from '../context.ts'
import type { GroupRow } from '../schema.ts'
import { assertDomain, getUser } from '../users-store.ts'
import { duplicateError, listLinks, Name, newId, notFoundError, parseJson } from './common.ts'
import { DomainId } from './users.ts'
import { filterUsers, groupView, inexactFilter, userView } from './user-views.ts'

// Keystone's group schemas (keystone/identity/schema.py): groups accept extra attributes.

const NullableString = Type.Unsafe<string | null>({ type: ['string', 'null'] })
const GroupCreate = Type.Object({
  group: Type.Object({ name: Name, domain_id: Type.Optional(DomainId), description: Type.Optional(NullableString) }),
}, { additionalProperties: false })
const GroupUpdate = Type.Object({
  group: Type.Object({ name: Type.Optional(Name), description: Type.Optional(NullableString) }, { minProperties: 1 }),
}, { additionalProperties: false })
const GroupQuery = Type.Object({ name: Type.Optional(Name), domain_id: Type.Optional(DomainId) })
const GroupUsersQuery = Type.Object({
  name: Type.Optional(Name), domain_id: Type.Optional(DomainId), enabled: Type.Optional(Type.String()),
  password_expires_at: Type.Optional(Type.String()),
})

type GroupBody = { name?: string; domain_id?: string; description?: string | null; id?: unknown } & Record<string, unknown>

const KNOWN = new Set(['id', 'name', 'domain_id', 'description', 'links'])

/** Unknown attributes go to `extra`; a null description is kept there too (the column is NOT NULL). */
function extraOf(b: GroupBody, base: Record<string, unknown> = {}): Record<string, unknown> {
  const out = { ...base }
  for (const [k, v] of Object.entries(b)) if (!KNOWN.has(k)) out[k] = v
  if (b.description === null) out.description = null
  else if (typeof b.description === 'string') delete out.description
  return out
}

const params = (req: FastifyRequest) => req.params as { group_id: string; user_id?: string }

async function getGroup(c: IdentityCtx, id: string): Promise<GroupRow> {
  const g = await c.db.selectFrom('groups').selectAll().where('id', '=', id).executeTakeFirst()
  if (!g) throw notFoundError('group', id)
  return g
}

/** Policy target: the group (and the user, on membership routes) when they exist. */
function groupTarget(c: IdentityCtx) {
  return async (req: FastifyRequest) => {
    const { group_id, user_id } = params(req)
    const out: Record<string, unknown> = {}
    const g = await c.db.selectFrom('groups').select(['id', 'domain_id']).where('id', '=', group_id).executeTakeFirst()
    if (g) out.group = { id: g.id, domain_id: g.domain_id }
    if (user_id !== undefined) {
      const u = await c.db.selectFrom('users').select(['id', 'domain_id']).where('id', '=', user_id).executeTakeFirst()
      if (u) out.user = { id: u.id, domain_id: u.domain_id }
    }
    return out
  }
}

const notMember = (userId: string, groupId: string) =>
  new CloudError('NotFound', `User '${userId}' not found in group '${groupId}'`)

export function groupRoutes(api: Api, c: IdentityCtx): void {
  const bodyGroup = (req: FastifyRequest) => (req.body as { group: GroupBody }).group
  const domainFor = (req: FastifyRequest) => bodyGroup(req).domain_id || req.ctx.domainId || 'default'

  api.post('/v3/groups', {
    schema: { body: GroupCreate },
    config: { policy: 'identity:create_group', target: (req) => ({ group: { ...bodyGroup(req), domain_id: domainFor(req) } }) },
  }, async (req, reply) => {
    const b = bodyGroup(req)
    const domainId = domainFor(req)
    await assertDomain(c.db, domainId)
    const row: GroupRow = {
      id: newId(), name: b.name!.trim(), domain_id: domainId,
      description: typeof b.description === 'string' ? b.description : '',
      extra: JSON.stringify(extraOf(b)), created_at: new Date(c.clock.now()).toISOString(),
    }
    try {
      await c.db.insertInto('groups').values(row).execute()
    } catch (err) {
      if (isUniqueViolation(err)) throw duplicateError('group', `name ${row.name} at domain ID ${domainId}`)
      throw err
    }
    reply.code(201)
    return { group: groupView(req, row) }
  })

  api.get('/v3/groups', {
    schema: { querystring: GroupQuery },
    config: { policy: 'identity:list_groups', target: (req) => (req.ctx.domainId ? { domain_id: req.ctx.domainId } : {}) },
  }, async (req) => {
    const query = req.query as Record<string, unknown>
    let q = c.db.selectFrom('groups').selectAll()
    if (typeof query.name === 'string') q = q.where('name', '=', query.name)
    if (typeof query.domain_id === 'string') q = q.where('domain_id', '=', query.domain_id)
    if (req.ctx.domainId) q = q.where('domain_id', '=', req.ctx.domainId)
    const rows = await q.orderBy('id').execute()
    return { groups: inexactFilter(rows.map((g) => groupView(req, g)), query, ['name', 'domain_id']), links: listLinks(req) }
  })

  api.get('/v3/groups/:group_id', { config: { policy: 'identity:get_group', target: groupTarget(c) } }, async (req) => {
    return { group: groupView(req, await getGroup(c, params(req).group_id)) }
  })

  api.patch('/v3/groups/:group_id', {
    schema: { body: GroupUpdate },
    config: { policy: 'identity:update_group', target: groupTarget(c) },
  }, async (req) => {
    const old = await getGroup(c, params(req).group_id)
    const b = bodyGroup(req)
    if (b.id !== undefined && b.id !== null && b.id !== old.id) throw badRequest('Cannot change ID')
    if (b.domain_id !== undefined && b.domain_id !== old.domain_id) throw badRequest('Cannot change Domain ID')
    const row: GroupRow = {
      ...old,
      name: b.name !== undefined ? b.name.trim() : old.name,
      description: typeof b.description === 'string' ? b.description : b.description === null ? '' : old.description,
      extra: JSON.stringify(extraOf(b, parseJson(old.extra))),
    }
    try {
      await c.db.updateTable('groups').set({ name: row.name, description: row.description, extra: row.extra })
        .where('id', '=', old.id).execute()
    } catch (err) {
      if (isUniqueViolation(err)) throw duplicateError('group', `name ${row.name}`)
      throw err
    }
    return { group: groupView(req, row) }
  })

  api.delete('/v3/groups/:group_id', { config: { policy: 'identity:delete_group', target: groupTarget(c) } }, async (req, reply) => {
    const g = await getGroup(c, params(req).group_id)
    const members = (await c.db.selectFrom('user_groups').select('user_id').where('group_id', '=', g.id).execute())
      .map((m) => m.user_id)
    const roles = await c.db.selectFrom('assignments').select('role_id').where('actor_id', '=', g.id)
      .where('type', 'in', ['GroupProject', 'GroupDomain', 'GroupSystem']).execute()
    await c.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('user_groups').where('group_id', '=', g.id).execute()
      await tx.deleteFrom('assignments').where('actor_id', '=', g.id)
        .where('type', 'in', ['GroupProject', 'GroupDomain', 'GroupSystem']).execute()
      await tx.deleteFrom('groups').where('id', '=', g.id).execute()
    })
    // Members lose what the group granted; Keystone revokes their tokens only if it granted something.
    if (roles.length > 0) for (const userId of members) await c.revocations.revoke({ userId })
    c.changed()
    reply.code(204).send()
  })

  api.get('/v3/groups/:group_id/users', {
    schema: { querystring: GroupUsersQuery },
    config: { policy: 'identity:list_users_in_group', target: groupTarget(c) },
  }, async (req) => {
    const g = await getGroup(c, params(req).group_id)
    const query = req.query as Record<string, unknown>
    let q = filterUsers(c.db.selectFrom('users').innerJoin('user_groups', 'user_groups.user_id', 'users.id')
      .selectAll('users').where('user_groups.group_id', '=', g.id), query)
    if (req.ctx.domainId) q = q.where('users.domain_id', '=', req.ctx.domainId)
    const rows = await q.orderBy('users.id').execute()
    return { users: inexactFilter(rows.map((u) => userView(req, u)), query, ['name', 'domain_id']), links: listLinks(req) }
  })

  api.put('/v3/groups/:group_id/users/:user_id', {
    config: { policy: 'identity:add_user_to_group', target: groupTarget(c) },
  }, async (req, reply) => {
    const g = await getGroup(c, params(req).group_id)
    const u = await getUser(c.db, params(req).user_id!)
    await c.db.insertInto('user_groups').values({ user_id: u.id, group_id: g.id })
      .onConflict((oc) => oc.doNothing()).execute()
    c.changed()
    reply.code(204).send()
  })

  // GET and HEAD both check membership (Keystone answers 204 to either).
  api.get('/v3/groups/:group_id/users/:user_id', {
    config: { policy: 'identity:check_user_in_group', target: groupTarget(c) },
  }, async (req, reply) => {
    const g = await getGroup(c, params(req).group_id)
    const u = await getUser(c.db, params(req).user_id!)
    const m = await c.db.selectFrom('user_groups').select('user_id').where('group_id', '=', g.id)
      .where('user_id', '=', u.id).executeTakeFirst()
    if (!m) throw notMember(u.id, g.id)
    reply.code(204).send()
  })

  api.delete('/v3/groups/:group_id/users/:user_id', {
    config: { policy: 'identity:remove_user_from_group', target: groupTarget(c) },
  }, async (req, reply) => {
    const { group_id, user_id } = params(req)
    const res = await c.db.deleteFrom('user_groups').where('group_id', '=', group_id).where('user_id', '=', user_id!)
      .executeTakeFirst()
    if (Number(res.numDeletedRows) === 0) {
      // Say which part is missing, as Keystone does.
      await getGroup(c, group_id)
      await getUser(c.db, user_id!)
      throw notMember(user_id!, group_id)
    }
    // The user may have lost roles the group granted: end their tokens (Keystone does).
    await c.revocations.revoke({ userId: user_id! })
    c.changed()
    reply.code(204).send()
  })
}
